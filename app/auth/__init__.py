"""Access: who a request is (a bearer token, app.auth.guard), what it may touch
(app.auth.principal), the first start's admin (app.auth.bootstrap)."""
