"""Loading, validation and storage: the only code that reads or writes files."""
