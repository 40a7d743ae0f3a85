"""Sources: every inbound mapping to the canonical event (docs/architecture.md "How to add a
source"). The web layer reads the HTTP request and answers it; the modules here turn what it
read into events, rejections and typed facts for ``Pipeline.accept``."""
