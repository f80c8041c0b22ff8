using Edge.Cli;

// edge: one binary, a sub-command per job. Input errors are one line on stderr and a non-zero exit code:
// 1 for bad input (files, data), 2 for a bad command line, 3 for an internal error (red on a colour terminal).
return Host.Run("edge", () => Commands.Run(args));
