"""The API's side of access: the audit log, the first start's admin (bootstrap), which URL
arguments name an object (resources) and what a submitted body names (submit). Who a request is
and what it may touch are shared with the serving role (webcommon.guard, webcommon.principal)."""
