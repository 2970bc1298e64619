"""The relational projection (Aurora MySQL through RDS Proxy; MariaDB locally): its schema and migrations.

Every statement here runs on both Aurora MySQL 8 and MariaDB 10.11 and avoids what pins an RDS Proxy
connection (SET, temporary tables, LOCK, user variables); see DESIGN.md, "Aurora MySQL through RDS Proxy".
"""
