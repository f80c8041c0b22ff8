using System.Text;
using Edge.Data;
using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Data;

public class TextCorpusTests
{
    static EdgeException Refused(byte[] bytes, out string path, TempDir dir)
    {
        path = dir.File("corpus.txt", bytes);
        string p = path;
        return Assert.Throws<EdgeException>(() => TextCorpus.Read(p));
    }

    [Fact]
    public void Reads_utf8_text()
    {
        using var dir = new TempDir();
        string path = dir.File("a.txt", Encoding.UTF8.GetBytes("héllo 😀\nworld\n"));
        Assert.Equal("héllo 😀\nworld\n", TextCorpus.Read(path));
    }

    [Fact]
    public void Missing_file_is_refused()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "nope.txt");
        var e = Assert.Throws<EdgeException>(() => TextCorpus.Read(path));
        Assert.Equal($"{path}: file not found", e.Message);
    }

    [Fact]
    public void Directory_is_refused()
    {
        using var dir = new TempDir();
        Assert.StartsWith($"{dir.Path}: is a folder", Assert.Throws<EdgeException>(() => TextCorpus.Read(dir.Path)).Message);
    }

    [Fact]
    public void Empty_file_is_refused()
    {
        using var dir = new TempDir();
        Assert.Equal($"{dir.Path}{Path.DirectorySeparatorChar}corpus.txt: file is empty", Refused([], out _, dir).Message);
        Assert.EndsWith("file is empty", Refused([0xEF, 0xBB, 0xBF], out _, dir).Message);
    }

    [Fact]
    public void Whitespace_only_file_is_refused()
    {
        using var dir = new TempDir();
        var e = Refused(Encoding.UTF8.GetBytes(" \r\n\t\n  "), out string path, dir);
        Assert.Equal($"{path}: file contains only whitespace", e.Message);
    }

    [Fact]
    public void File_with_nul_bytes_is_refused_as_binary()
    {
        using var dir = new TempDir();
        var e = Refused([(byte)'a', (byte)'b', 0, (byte)'c'], out string path, dir);
        Assert.Equal($"{path}: looks like a binary file (NUL byte at offset 2), expected UTF-8 text", e.Message);
    }

    [Fact]
    public void Invalid_utf8_is_refused_with_its_byte_offset()
    {
        using var dir = new TempDir();
        var bytes = Encoding.UTF8.GetBytes("abcé").Concat(new byte[] { 0xFF, (byte)'d' }).ToArray(); // é is 2 bytes: 0xFF at 5
        var e = Refused(bytes, out string path, dir);
        Assert.Equal($"{path}: not valid UTF-8 (byte 0xFF at offset 5), expected UTF-8 text", e.Message);

        // Offsets count the BOM; a sequence cut off at the end of the file is invalid too.
        e = Refused([0xEF, 0xBB, 0xBF, (byte)'x', 0xE6, 0x97], out _, dir);
        Assert.Contains("(byte 0xE6 at offset 4)", e.Message);
    }

    [Fact]
    public void Bom_is_stripped()
    {
        using var dir = new TempDir();
        string path = dir.File("bom.txt", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("hi")]);
        Assert.Equal("hi", TextCorpus.Read(path));
    }

    [Fact]
    public void Crlf_is_normalised_to_lf()
    {
        using var dir = new TempDir();
        string path = dir.File("crlf.txt", Encoding.UTF8.GetBytes("one\r\ntwo\r\n\r\nthree\rfour\r"));
        Assert.Equal("one\ntwo\n\nthree\rfour\r", TextCorpus.Read(path));
    }

    [Fact]
    public void Corpus_lines_are_trimmed_and_empty_lines_dropped()
    {
        Assert.Equal(new[] { "emma", "olivia", "ava mae" }, CorpusLines.Split("emma\r\n  olivia \n\n \r\nava mae\n"));
        Assert.Empty(CorpusLines.Split("\n \r\n"));
    }
}
