//! The trustcloud attester (issue 5): see lib docs as they grow.
