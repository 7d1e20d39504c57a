"""End-to-end tests: JupyterLab and the plugin's Swagger UI driven in headless Chromium (`make test-e2e`)."""
