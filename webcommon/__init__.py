"""The web pieces the API and the serving role share without importing each other: who a
request is and what it may touch (guard, principal, tokens, failures), refusals as data
(errors) and the OpenAPI document's builder (openapi)."""
