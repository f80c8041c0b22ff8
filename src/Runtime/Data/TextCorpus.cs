using System.Buffers;
using System.Text.Unicode;

namespace Edge.Data;

/// <summary>Reads a UTF-8 text file for training, refusing what is not text.</summary>
public static class TextCorpus
{
    public const long MaxBytes = 2L << 30;

    /// <summary>The file's text without a BOM and with "\r\n" as "\n".</summary>
    public static string Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Files.SafeFile.CheckInput(path);
        var info = new FileInfo(path);
        if (info.Length > MaxBytes)
            throw new EdgeException($"{path}: file is {info.Length >> 20} MB, over the 2 GB limit for training text");
        try
        {
            return Decode(File.ReadAllBytes(path), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EdgeException($"{path}: cannot read ({e.Message})", e);
        }
        catch (OutOfMemoryException e)
        {
            throw new EdgeException($"{path}: file is too large to hold as text ({info.Length >> 20} MB)", e);
        }
    }

    /// <summary>The checks and normalisation of <see cref="Read"/>; <paramref name="name"/> starts each message.</summary>
    internal static string Decode(ReadOnlySpan<byte> bytes, string name)
    {
        int bom = bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        var body = bytes[bom..];
        if (body.IsEmpty) throw new EdgeException($"{name}: file is empty");
        int nul = body.IndexOf((byte)0);
        if (nul >= 0) throw new EdgeException($"{name}: looks like a binary file (NUL byte at offset {nul + bom}), expected UTF-8 text");

        var chars = new char[body.Length];           // UTF-16 never needs more units than UTF-8 has bytes
        if (Utf8.ToUtf16(body, chars, out int read, out int length, replaceInvalidSequences: false) != OperationStatus.Done)
            throw new EdgeException($"{name}: not valid UTF-8 (byte 0x{body[read]:X2} at offset {read + bom}), expected UTF-8 text");

        int cr = chars.AsSpan(0, length).IndexOf("\r\n");
        if (cr >= 0)
        {
            int n = cr;
            for (int i = cr; i < length; i++)
                if (chars[i] != '\r' || i + 1 >= length || chars[i + 1] != '\n') chars[n++] = chars[i];
            length = n;
        }
        var text = chars.AsSpan(0, length);
        if (text.IsWhiteSpace()) throw new EdgeException($"{name}: file contains only whitespace");
        return new string(text);
    }
}
