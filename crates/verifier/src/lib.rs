//! The trustcloud registrar and verifier (issue 5): see lib docs as they grow.
