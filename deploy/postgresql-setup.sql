-- Ping'an Hub: the PostgreSQL role and database that `pingan db upgrade` and `pingan serve` use
-- (docs/DEPLOY.md). Run once, as the PostgreSQL superuser, on PostgreSQL 15 or later:
--
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -f deploy/postgresql-setup.sql
--
-- Running it again changes nothing. Other names: add -v role=NAME -v db=NAME.
--
-- The role has no password: the hub runs as the Unix user of the same name (`pingan`) and
-- connects over the local socket, where Debian's pg_hba.conf uses peer authentication
-- ("local all all peer"): database.url postgresql+psycopg://pingan@/pingan?host=/run/postgresql.
-- A database on another machine needs a password instead: ALTER ROLE pingan PASSWORD '...',
-- a `host ... scram-sha-256` line in its pg_hba.conf, and the password in database.url.
--
-- The role owns its database and the public schema in it, so `pingan db upgrade` can create
-- and alter tables, indexes and the daily partitions of `events`; it is not a superuser and
-- cannot create roles or other databases. Nobody else may connect.

\if :{?role}
\else
  \set role pingan
\endif
\if :{?db}
\else
  \set db pingan
\endif

SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec

-- UTF-8 whatever the server's default: residents' names and SMS texts are Chinese.
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' LC_COLLATE ''C.UTF-8'' LC_CTYPE ''C.UTF-8'' TEMPLATE template0',
              :'db', :'role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec

REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";

\connect :"db"
-- PostgreSQL 15 gives the public schema to the database owner already; say it, and close the
-- schema to everyone else (PUBLIC may create in it on a cluster upgraded from an older version).
ALTER SCHEMA public OWNER TO :"role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
