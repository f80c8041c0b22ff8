namespace Edge.Cli;

/// <summary>
/// Ctrl-C as a cancellation: the first press asks the running job to stop cleanly (generation ends after the
/// current token); a second press ends the process as usual.
/// </summary>
sealed class Interrupt : IDisposable
{
    readonly CancellationTokenSource _source = new();
    readonly ConsoleCancelEventHandler _handler;

    Interrupt()
    {
        _handler = (_, e) =>
        {
            if (_source.IsCancellationRequested) return; // second Ctrl-C: let the runtime end the process
            e.Cancel = true;
            _source.Cancel();
        };
        Console.CancelKeyPress += _handler;
    }

    public static Interrupt OnCtrlC() => new();

    public CancellationToken Token => _source.Token;

    /// <summary>Re-arms after a handled interrupt (the chat REPL goes on after stopping one answer).</summary>
    public Interrupt Renew() => _source.IsCancellationRequested ? Replace() : this;

    Interrupt Replace()
    {
        Dispose();
        return new Interrupt();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= _handler;
        _source.Dispose();
    }
}
