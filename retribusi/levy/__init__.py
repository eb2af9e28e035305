"""The levy: tariffs, bills (SKRD), sanctions (STRD), reliefs and outages, arrears."""
