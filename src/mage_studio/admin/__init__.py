"""Administration: users, money, orders, support, content, the audit log, status."""
