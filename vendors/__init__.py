"""Markets, blocks, stalls, vendors, occupancy rights (SHP) and bulk import."""
