//! A real headless Chromium for the status page tests.
