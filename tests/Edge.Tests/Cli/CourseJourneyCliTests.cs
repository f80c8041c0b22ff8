using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Edge.Tests.Plotting;
using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Cli;

/// <summary>
/// The course's journey through the real CLI, as the README walks it: a base trained briefly, two instruction
/// adapters on JSONL pairs in the default template, a piped chat that compares, switches, lists and turns the
/// adapters off, and a plot of an adapter's log.
/// </summary>
public class CourseJourneyCliTests
{
    static readonly string[] Things = ["sea", "king", "moon", "house", "light", "rain", "ship", "tree", "bread", "song"];
    static readonly string[] Forms = ["what is the {0}?", "where is the {0}?", "do you like the {0}?", "tell me of the {0}."];

    /// <summary>Every question form on every thing, each answered by <paramref name="answer"/>: a voice the base has never seen.</summary>
    static string Pairs(string answer)
    {
        var sb = new StringBuilder();
        foreach (var form in Forms)
            foreach (var thing in Things)
                sb.Append(CultureInfo.InvariantCulture, $"{{\"question\": \"{string.Format(CultureInfo.InvariantCulture, form, thing)}\", \"answer\": \"{answer}\"}}\n");
        return sb.ToString();
    }

    static void AssertOk(EdgeProcess.Result r) => Assert.True(r.ExitCode == 0, r.ToString());

    static (double Before, double After) ValLosses(EdgeProcess.Result r)
    {
        var m = Regex.Match(r.Stdout, @"(?m)^val (\d+\.\d+) -> (\d+\.\d+)");
        Assert.True(m.Success, r.ToString());
        return (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>The answer under "[label]": up to <paramref name="next"/> (the next line that follows it), or its first line.</summary>
    static string Block(string stdout, string label, string? next = null)
    {
        int start = stdout.IndexOf($"[{label}]\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no [{label}] in:\n{stdout}");
        start += label.Length + 3;
        int end = next is null ? stdout.IndexOf('\n', start) : stdout.IndexOf("\n" + next, start, StringComparison.Ordinal);
        Assert.True(end >= 0, stdout);
        return stdout[start..end];
    }

    [Fact]
    public void Journey_TrainBase_TwoInstructionAdapters_ChatCompareSwitchBase_PlotTheLog()
    {
        using var dir = new TempDir();
        string Dir = dir.Path;

        // 1. A base, trained briefly on the built-in corpus with the default (ASCII) vocabulary.
        AssertOk(EdgeProcess.Run(Dir, "train", "baby-gpt", "--steps", "30", "--eval-interval", "30", "--eval-iters", "2", "--out", "base",
            "--sample", "0", "--quiet"));

        // 2. Two instruction sets in the course's default template ("### Question:" ... "### Answer:"): the '#' of
        //    the template must encode on the base, and the answers must end where the pairs end.
        File.WriteAllText(Path.Combine(Dir, "pirate.jsonl"), Pairs("arr, matey."));
        File.WriteAllText(Path.Combine(Dir, "robot.jsonl"), Pairs("BEEP BOOP."));
        var trained = new Dictionary<string, EdgeProcess.Result>();
        foreach (var name in new[] { "pirate", "robot" })
        {
            var r = EdgeProcess.Run(Dir, "lora", "train", "--base", "base/model.safetensors", "--data", $"{name}.jsonl", "--rank", "4",
                "--targets", "c_attn,c_fc", "--steps", "40", "--batch", "8", "--lr", "1e-2", "--eval-interval", "20", "--out", name, "--quiet");
            AssertOk(r);
            Assert.Contains("40 instruction pairs (36 train / 4 val", r.Stdout);
            Assert.Contains("loss on answers only", r.Stdout);
            var (before, after) = ValLosses(r);
            Assert.True(after < 0.7 * before, $"{name}: held-out loss {before} -> {after}, less than a 30% drop\n{r}");
            trained[name] = r;
        }

        // 3. One chat, piped: compare with the pirate on, switch to the robot, list, switch every adapter off.
        string input = "compare what is the moon?\nadapter robot\ncompare where is the rain?\nadapters\nbase\nadapters\nwhat is the moon?\nquit\n";
        var chat = EdgeProcess.RunWithInput(Dir, input, "chat", "--model", "base/model.safetensors", "--template", "course",
            "--adapter", "pirate", "--tokens", "16", "--temperature", "0");
        AssertOk(chat);
        Assert.Equal("", chat.Stderr);
        string o = chat.Stdout;

        // compare: the base alone, then the pirate, from the same prompt and seed; the adapter's greedy answer is its voice.
        string pirateBase = Block(o, "base", "[pirate]\n"), pirate = Block(o, "pirate");
        Assert.Contains("matey.", pirate);     // the end of every answer it learned, then the end-of-text token stops it
        Assert.DoesNotContain("matey", pirateBase);
        // adapter: the robot alone, said so; the second compare shows the robot's voice against the base.
        int switched = o.IndexOf("(adapter robot)\n", StringComparison.Ordinal);
        Assert.True(switched > o.IndexOf("[pirate]", StringComparison.Ordinal), o);
        string afterSwitch = o[switched..];
        string robot = Block(afterSwitch, "robot");
        Assert.Contains("BOOP.", robot);
        Assert.DoesNotContain("matey", robot);
        Assert.DoesNotContain("[pirate]", afterSwitch);
        // adapters: both loaded, only the robot on; after base, both off.
        var listings = Regex.Matches(o, @"(?m)^  pirate +(.+)\n  robot +(.+)$");
        Assert.True(listings.Count == 2, o);
        Assert.StartsWith("off", listings[0].Groups[1].Value);
        Assert.StartsWith("on, scale 1", listings[0].Groups[2].Value);
        Assert.StartsWith("off", listings[1].Groups[1].Value);
        Assert.StartsWith("off", listings[1].Groups[2].Value);
        Assert.Contains("(base: every adapter off)\n", o);
        // The last question, asked with every adapter off, gets the base's answer to it, not an adapter's voice.
        string lastAnswer = o[(o.LastIndexOf("/robot)\n", StringComparison.Ordinal) + 8)..^1];
        Assert.Equal(pirateBase, lastAnswer);
        Assert.DoesNotContain("BOOP", lastAnswer);

        // 4. The adapter's log, as edge plot draws it: the base's row at step 0, then every evaluation.
        var log = File.ReadAllLines(Path.Combine(Dir, "pirate", "log.csv"));
        Assert.Equal("step,train_loss,val_loss,val_perplexity,lr,seconds", log[0]);
        Assert.Equal(["0", "20", "40"], log[1..].Select(l => l.Split(',')[0]));
        var plot = EdgeProcess.Run(Dir, "plot", "pirate/log.csv", "robot", "--out", "adapters.png");
        AssertOk(plot);
        Assert.Equal("", plot.Stderr);
        Assert.Contains("wrote adapters.png", plot.Stdout);
        PngCheck.AssertDrawn(Path.Combine(Dir, "adapters.png"));
        AssertOk(EdgeProcess.Run(Dir, "plot", "pirate", "--out", "pirate.svg"));
        var svg = System.Xml.Linq.XDocument.Load(Path.Combine(Dir, "pirate.svg"));
        XNamespaceCheck(svg);
    }

    /// <summary>The SVG of one adapter's log: a train and a val line of three points each (steps 0, 20, 40).</summary>
    static void XNamespaceCheck(System.Xml.Linq.XDocument svg)
    {
        System.Xml.Linq.XNamespace ns = "http://www.w3.org/2000/svg";
        var lines = svg.Descendants(ns + "polyline").ToDictionary(l => l.Element(ns + "title")!.Value, l => l.Attribute("points")!.Value.Split(' ').Length);
        Assert.Equal(3, lines["pirate train"]);
        Assert.Equal(3, lines["pirate val"]);
    }
}
