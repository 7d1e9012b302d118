//! Media: port pool, worker threads that own the sockets, and the relay pipeline.
