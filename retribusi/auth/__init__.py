"""Users, roles, logins (staff password, vendor PIN), API tokens and the access policy."""
