using Edge.Hosting;

// edge: one binary, a sub-command per job, over the built-in models (src/Models); the commands live in Edge.Hosting
// (src/Hosting), which any program can host for its own models. Input errors are one line on stderr and a non-zero
// exit code: 1 for bad input (files, data), 2 for a bad command line, 3 for an internal error (red on a colour terminal).
return EdgeCli.Run(args);
