"""Governance: principals, privileges with inheritance, one authorisation check, an audit trail."""
