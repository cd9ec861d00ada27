//! vTPM hosting: transports and state storage.
