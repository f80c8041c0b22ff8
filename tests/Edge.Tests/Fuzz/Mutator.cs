using System.Buffers.Binary;
using System.Text;

namespace Edge.Tests.Fuzz;

/// <summary>
/// Deterministic mutations of a valid file: the same <see cref="Rng"/> state and inputs give the same bytes, so a
/// failing input is replayed from its target name and iteration alone. Each call stacks one to three edits and
/// describes them (the description goes into a failure message). A safetensors-shaped input (u64 header length,
/// then a JSON object) is often mutated inside its header with the length fixed up afterwards, so the edits
/// reach the checks behind the header-length check.
/// </summary>
static class Mutator
{
    /// <summary>Numbers that break parsers: limits of every integer width, negatives, fractions, overflowing exponents.</summary>
    static readonly string[] BigNumbers =
    [
        "0", "-1", "1", "-0", "255", "256", "65535", "65536", "2147483647", "2147483648", "-2147483649", "4294967295",
        "4294967296", "9007199254740993", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "18446744073709551615", "18446744073709551616", "99999999999999999999999999999999", "1.5", "1e400", "-1e400",
        "1e-400", "0.0", "1e5", "100000000", "16777216", "NaN", "Infinity", "null", "true", "\"7\"",
    ];

    /// <summary>Replacements for a JSON string's content: every dtype, reserved names, bad escapes.</summary>
    static readonly string[] Strings =
    [
        "", "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "f32", "Q4_0", "__metadata__",
        "gpt2", "BPE", "WordPiece", "gelu", "gelu_new", "<|endoftext|>", "a b", "a  b", " ", "\\u0000", "\\ud800", "\\udc00x",
        "\\n", "\\\"", "é", "🤖", "null", "{}", "[]",
    ];

    /// <summary>Header lengths for the first 8 bytes, relative to a file of <paramref name="length"/> bytes.</summary>
    static ulong[] HeaderLengths(long length) =>
    [
        0, 1, 2, 7, 8, (ulong)Math.Max(0, length - 9), (ulong)Math.Max(0, length - 8), (ulong)length - 7, (ulong)length,
        100_000_000, 100_000_001, uint.MaxValue, (ulong)uint.MaxValue + 1, long.MaxValue, (ulong)long.MaxValue + 1, ulong.MaxValue,
    ];

    static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7F, 0x80, 0xC0, 0xC3, 0xED, 0xF4, 0xFF, (byte)'"', (byte)'\\',
        (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)',', (byte)':', (byte)' ', (byte)'\n', (byte)'\r', (byte)'0', (byte)'9', (byte)'-'];

    public static (byte[] Bytes, string Description) Mutate(ref Rng rng, byte[] seed, byte[] other)
    {
        var edits = new List<string>();
        byte[] bytes;
        if (SplitSafeTensors(seed) is (byte[] header, byte[] data) && rng.NextInt(2) == 0)
        {
            // Edit the JSON header only, then write its new length: the file stays framed and reaches the JSON checks.
            int n = 1 + rng.NextInt(3);
            for (int i = 0; i < n; i++) header = Edit(ref rng, header, other, edits, framed: true);
            bytes = new byte[8 + header.Length + data.Length];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
            header.CopyTo(bytes, 8);
            data.CopyTo(bytes, 8 + header.Length);
            edits.Insert(0, "in the header, length fixed up:");
        }
        else
        {
            bytes = seed;
            int n = 1 + rng.NextInt(3);
            for (int i = 0; i < n; i++) bytes = Edit(ref rng, bytes, other, edits, framed: false);
        }
        return (bytes, string.Join(" ", edits));
    }

    static byte[] Edit(ref Rng rng, byte[] b, byte[] other, List<string> edits, bool framed)
    {
        int kind = rng.NextInt(framed ? 12 : 13);
        switch (kind)
        {
            case 0 when b.Length > 0:
            {
                int at = rng.NextInt(b.Length), bit = rng.NextInt(8);
                edits.Add($"flip bit {bit} of byte {at};");
                return With(b, at, (byte)(b[at] ^ (1 << bit)));
            }
            case 1 when b.Length > 0:
            {
                int at = rng.NextInt(b.Length);
                byte v = rng.NextInt(3) == 0 ? (byte)rng.NextInt(256) : InterestingBytes[rng.NextInt(InterestingBytes.Length)];
                edits.Add($"set byte {at} to 0x{v:X2};");
                return With(b, at, v);
            }
            case 2:
            {
                int keep = rng.NextInt(b.Length + 1);
                edits.Add($"truncate to {keep} bytes;");
                return b[..keep];
            }
            case 3 when b.Length > 0:
            {
                int at = rng.NextInt(b.Length), n = 1 + rng.NextInt(Math.Min(64, b.Length - at));
                edits.Add($"delete {n} bytes at {at};");
                return [.. b[..at], .. b[(at + n)..]];
            }
            case 4 when b.Length > 0:
            {
                int from = rng.NextInt(b.Length), n = 1 + rng.NextInt(Math.Min(256, b.Length - from)), to = rng.NextInt(b.Length + 1);
                edits.Add($"copy {n} bytes from {from} to {to};");
                return [.. b[..to], .. b.AsSpan(from, n), .. b[to..]];
            }
            case 5:
            {
                int cut = rng.NextInt(b.Length + 1), otherCut = rng.NextInt(other.Length + 1);
                edits.Add($"splice: first {cut} bytes, then the other seed from {otherCut};");
                return [.. b[..cut], .. other[otherCut..]];
            }
            case 6 when FindDigits(ref rng, b) is (int at, int n):
            {
                string s = BigNumbers[rng.NextInt(BigNumbers.Length)];
                edits.Add($"replace the number at {at} ({n} chars) with {s};");
                return [.. b[..at], .. Encoding.UTF8.GetBytes(s), .. b[(at + n)..]];
            }
            case 7 when FindString(ref rng, b) is (int at, int n):
            {
                string s = Strings[rng.NextInt(Strings.Length)];
                edits.Add($"replace the string at {at} ({n} chars) with \"{s}\";");
                return [.. b[..at], .. Encoding.UTF8.GetBytes(s), .. b[(at + n)..]];
            }
            case 8 when FindMember(ref rng, b) is (int at, int n):
            {
                edits.Add($"duplicate the JSON member at {at} ({n} bytes);");
                return [.. b[..(at + n)], (byte)',', .. b.AsSpan(at, n), .. b[(at + n)..]];
            }
            case 9 when FindMember(ref rng, b) is (int at, int n):
            {
                // Remove a member with its comma, so required keys go missing without breaking the JSON.
                int end = at + n < b.Length && b[at + n] == ',' ? at + n + 1 : at + n;
                edits.Add($"remove the JSON member at {at} ({end - at} bytes);");
                return [.. b[..at], .. b[end..]];
            }
            case 10:
            {
                // One enormous line (or value): a run of one byte, up to a megabyte.
                int at = rng.NextInt(b.Length + 1), n = rng.NextInt(4) == 0 ? 1 << 20 : 1 + rng.NextInt(4096);
                byte v = rng.NextInt(2) == 0 ? (byte)'a' : InterestingBytes[rng.NextInt(InterestingBytes.Length)];
                edits.Add($"insert {n} bytes 0x{v:X2} at {at};");
                return [.. b[..at], .. Enumerable.Repeat(v, n), .. b[at..]];
            }
            case 11:
            {
                // Deep nesting: parsers must refuse it, not overflow the stack.
                int at = rng.NextInt(b.Length + 1), depth = 1 + rng.NextInt(2000);
                edits.Add($"insert {depth} '[' at {at};");
                return [.. b[..at], .. Enumerable.Repeat((byte)'[', depth), .. b[at..]];
            }
            case 12 when b.Length >= 8:
            {
                var lengths = HeaderLengths(b.Length);
                ulong v = rng.NextInt(4) == 0 ? rng.NextUInt64() : lengths[rng.NextInt(lengths.Length)];
                edits.Add($"set the 8-byte header length to {v};");
                var copy = (byte[])b.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(copy, v);
                return copy;
            }
        }
        // The chosen edit did not apply (no number, string or member to edit): flip a byte instead.
        if (b.Length == 0) { edits.Add("append 0x00;"); return [0]; }
        int i = rng.NextInt(b.Length);
        edits.Add($"invert byte {i};");
        return With(b, i, (byte)~b[i]);
    }

    static byte[] With(byte[] b, int at, byte v)
    {
        var copy = (byte[])b.Clone();
        copy[at] = v;
        return copy;
    }

    /// <summary>(header, data) when <paramref name="b"/> is framed like a safetensors file, else null.</summary>
    static (byte[] Header, byte[] Data)? SplitSafeTensors(byte[] b)
    {
        if (b.Length < 10) return null;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(b);
        if (n < 2 || n > (ulong)(b.Length - 8) || b[8] != '{') return null;
        return (b[8..(8 + (int)n)], b[(8 + (int)n)..]);
    }

    /// <summary>A run of digits (with a leading '-') starting at a random place, or null.</summary>
    static (int At, int Length)? FindDigits(ref Rng rng, byte[] b)
    {
        if (b.Length == 0) return null;
        int start = rng.NextInt(b.Length);
        for (int k = 0; k < b.Length; k++)
        {
            int i = (start + k) % b.Length;
            if (!char.IsAsciiDigit((char)b[i]) || i > 0 && char.IsAsciiDigit((char)b[i - 1])) continue;
            int from = i > 0 && b[i - 1] == '-' ? i - 1 : i, end = i;
            while (end < b.Length && (char.IsAsciiDigit((char)b[end]) || b[end] is (byte)'.' or (byte)'e' or (byte)'E')) end++;
            return (from, end - from);
        }
        return null;
    }

    /// <summary>The content of a JSON string (between its quotes) near a random place, or null.</summary>
    static (int At, int Length)? FindString(ref Rng rng, byte[] b)
    {
        if (b.Length == 0) return null;
        int q = Array.IndexOf(b, (byte)'"', rng.NextInt(b.Length));
        if (q < 0) q = Array.IndexOf(b, (byte)'"');
        if (q < 0) return null;
        int end = q + 1;
        while (end < b.Length && b[end] != '"') end += b[end] == '\\' ? 2 : 1;
        return end < b.Length ? (q + 1, end - q - 1) : null;
    }

    /// <summary>
    /// A JSON object member <c>"key": value</c> near a random place (from its opening quote to the end of its
    /// value), or null. The value's end is the first ',', '}' or ']' outside strings and nested brackets.
    /// </summary>
    static (int At, int Length)? FindMember(ref Rng rng, byte[] b)
    {
        if (b.Length == 0) return null;
        for (int from = rng.NextInt(b.Length), tries = 0; tries < 4; tries++, from = 0)
        {
            for (int q = Array.IndexOf(b, (byte)'"', from); q >= 0 && q < b.Length; q = Array.IndexOf(b, (byte)'"', q + 1))
            {
                if (q == 0 || b[q - 1] is not ((byte)'{' or (byte)',' or (byte)' ' or (byte)'\n')) continue;
                int end = q + 1;
                while (end < b.Length && b[end] != '"') end += b[end] == '\\' ? 2 : 1;
                int colon = end + 1;
                while (colon < b.Length && b[colon] == ' ') colon++;
                if (colon >= b.Length || b[colon] != ':') continue;
                int depth = 0, i = colon + 1;
                for (bool inString = false; i < b.Length; i++)
                {
                    byte c = b[i];
                    if (inString) { if (c == '\\') i++; else if (c == '"') inString = false; }
                    else if (c == '"') inString = true;
                    else if (c is (byte)'{' or (byte)'[') depth++;
                    else if (c is (byte)'}' or (byte)']') { if (depth-- == 0) break; }
                    else if (c == ',' && depth == 0) break;
                }
                if (i >= b.Length) return null;
                return (q, i - q);
            }
        }
        return null;
    }
}
