"""The database adapter: SQLAlchemy 2 async Core on the tables that Prisma's migrations create."""
