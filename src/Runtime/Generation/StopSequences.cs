namespace Edge.Generation;

/// <summary>
/// Streams generated text to a writer while watching for stop sequences: text that could still turn into a
/// stop sequence is held back until it cannot, and a stop sequence itself is never written. Works on
/// characters, so it sees a stop sequence however the tokens split it.
/// </summary>
public sealed class StopSequences
{
    readonly string[] _stops;
    readonly char[] _pending;
    int _length;

    public StopSequences(IReadOnlyList<string> stops, int maxPieceLength = 64)
    {
        _stops = stops.Where(s => s.Length > 0).ToArray();
        _pending = new char[(_stops.Length == 0 ? 0 : _stops.Max(s => s.Length)) + maxPieceLength];
    }

    /// <summary>True once a stop sequence has appeared; nothing more is written.</summary>
    public bool Stopped { get; private set; }

    public void Reset()
    {
        _length = 0;
        Stopped = false;
    }

    /// <summary>Adds generated text; writes what is certainly not part of a stop sequence. Returns <see cref="Stopped"/>.</summary>
    public bool Append(ReadOnlySpan<char> piece, TextWriter output)
    {
        if (Stopped) return true;
        if (_stops.Length == 0)
        {
            output.Write(piece);
            return false;
        }
        foreach (var ch in piece)
        {
            if (_length == _pending.Length) Emit(1, output);
            _pending[_length++] = ch;
            var text = _pending.AsSpan(0, _length);
            foreach (var stop in _stops)
            {
                int at = text.IndexOf(stop.AsSpan(), StringComparison.Ordinal);
                if (at < 0) continue;
                output.Write(text[..at]);
                _length = 0;
                Stopped = true;
                return true;
            }
            Emit(_length - LongestStopPrefixSuffix(text), output);
        }
        return false;
    }

    /// <summary>Writes what is still held back (the end of generation, no stop sequence seen).</summary>
    public void Flush(TextWriter output)
    {
        if (!Stopped) output.Write(_pending.AsSpan(0, _length));
        _length = 0;
    }

    void Emit(int count, TextWriter output)
    {
        if (count <= 0) return;
        output.Write(_pending.AsSpan(0, count));
        _pending.AsSpan(count, _length - count).CopyTo(_pending);
        _length -= count;
    }

    /// <summary>The length of the longest end of <paramref name="text"/> that begins some stop sequence.</summary>
    int LongestStopPrefixSuffix(ReadOnlySpan<char> text)
    {
        int best = 0;
        foreach (var stop in _stops)
            for (int n = Math.Min(stop.Length - 1, text.Length); n > best; n--)
                if (text[^n..].SequenceEqual(stop.AsSpan(0, n))) { best = n; break; }
        return best;
    }
}
