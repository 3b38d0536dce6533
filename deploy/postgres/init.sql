-- One role and one schema per service on one server; each service can only touch its own schema.
CREATE ROLE customer LOGIN PASSWORD 'customer';
CREATE ROLE scoring LOGIN PASSWORD 'scoring';
CREATE ROLE feedback LOGIN PASSWORD 'feedback';
CREATE ROLE gateway LOGIN PASSWORD 'gateway';
CREATE SCHEMA customer AUTHORIZATION customer;
CREATE SCHEMA scoring AUTHORIZATION scoring;
CREATE SCHEMA feedback AUTHORIZATION feedback;
CREATE SCHEMA gateway AUTHORIZATION gateway;
-- Extensions a service's migrations need but its role may not create: the customer search's
-- trigram indexes (pg_trgm, in public, which every role's search_path holds).
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
