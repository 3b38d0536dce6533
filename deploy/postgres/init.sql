-- One role and one schema per service on one server; each service can only touch its own schema.
CREATE ROLE customer LOGIN PASSWORD 'customer';
CREATE ROLE scoring LOGIN PASSWORD 'scoring';
CREATE ROLE feedback LOGIN PASSWORD 'feedback';
CREATE ROLE gateway LOGIN PASSWORD 'gateway';
CREATE SCHEMA customer AUTHORIZATION customer;
CREATE SCHEMA scoring AUTHORIZATION scoring;
CREATE SCHEMA feedback AUTHORIZATION feedback;
CREATE SCHEMA gateway AUTHORIZATION gateway;
