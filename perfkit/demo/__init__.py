"""``perfkit demo``: the whole toolkit on a sample CRM database in the embedded cluster."""
