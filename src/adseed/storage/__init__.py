"""Governed storage: volumes (folders of files) and the Delta tables that mirror them."""
