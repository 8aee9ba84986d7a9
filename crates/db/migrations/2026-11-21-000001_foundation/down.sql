DROP TABLE comments;
DROP TABLE images;
DROP TABLE api_tokens;
DROP TABLE users;
