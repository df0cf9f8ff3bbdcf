//! Event intake (feature `events`): JSON events over HTTP and UDP into a bounded queue, handed to
//! an async handler of the application's.
