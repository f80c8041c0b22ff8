using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;

namespace Edge.Gpu.Tests;

/// <summary>
/// edge-gpu as a program (a child process, every stream redirected) on ILGPU's CPU accelerator, against edge: the same
/// training run gives the same losses, checkpoints go both ways, greedy generation agrees, and a missing CUDA driver is
/// one line and exit code 1.
/// </summary>
[Collection(DeviceCollection.Name)]
public sealed class CliTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("edge-gpu-cli").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    Result Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, program + ".dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(180_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in 180 s");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    static string Device => Environment.GetEnvironmentVariable("EDGE_GPU_TEST_DEVICE") == "cuda" ? "cuda" : "cpu";

    /// <summary>Every "step N train X val Y" line of a training log.</summary>
    static (int Step, double Train, double Val)[] Evaluations(string log) =>
        Regex.Matches(log, @"step +([\d,]+) +train ([\d.]+) +val ([\d.]+)")
            .Select(m => (int.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture),
                double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)))
            .ToArray();

    static double Loss(string evalOutput) =>
        double.Parse(Regex.Match(evalOutput, @"loss ([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);

    /// <summary>The same run of the char MLP (a window model) on both: every evaluation agrees; the device resumes its own run.</summary>
    [Fact]
    public void Train_OnTheDevice_MatchesEdge_AndResumes()
    {
        string[] run = ["train", "char-mlp", "--steps", "40", "--batch", "8", "--eval-interval", "20", "--eval-iters", "4", "--sample", "0", "--quiet"];
        var cpu = Run("edge", [.. run, "--out", "cpu"]);
        var device = Run("edge-gpu", [.. run, "--out", "device", "--device", Device]);
        Assert.True(cpu.ExitCode == 0, cpu.ToString());
        Assert.True(device.ExitCode == 0, device.ToString());
        Assert.Contains("edge-gpu: device ", device.Stderr);
        var a = Evaluations(cpu.Stdout);
        var b = Evaluations(device.Stdout);
        Assert.Equal(2, a.Length);
        Assert.Equal(a.Select(e => e.Step), b.Select(e => e.Step));
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i].Train, b[i].Train, 2e-4);
            Assert.Equal(a[i].Val, b[i].Val, 2e-4);
        }

        // --resume on the device continues from its last.safetensors (weights and AdamW moments) as the CPU run goes on.
        string[] longer = ["train", "char-mlp", "--steps", "60", "--batch", "8", "--eval-interval", "20", "--eval-iters", "4", "--sample", "0", "--quiet", "--resume"];
        var cpuResumed = Run("edge", [.. longer, "--out", "cpu"]);
        var resumed = Run("edge-gpu", [.. longer, "--out", "device", "--device", Device]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resuming at step 40", resumed.Stdout);
        Assert.Equal(Evaluations(cpuResumed.Stdout)[^1].Val, Evaluations(resumed.Stdout)[^1].Val, 5e-4);
    }

    /// <summary>A checkpoint scores the same in edge and in edge-gpu, whichever trained it, and greedy generation agrees.</summary>
    [Fact]
    public void Checkpoints_GoBothWays_AndGreedyTextAgrees()
    {
        File.WriteAllText(Path.Combine(_dir, "text.txt"), string.Concat(Enumerable.Repeat("the keeper lit the lamp and the sea was loud\n", 30)));
        var trained = Run("edge", "train", "baby-gpt", "--data", "text.txt", "--steps", "6", "--batch", "4", "--eval-interval", "6", "--eval-iters", "2", "--sample", "0", "--quiet", "--out", "cpu");
        Assert.True(trained.ExitCode == 0, trained.ToString());
        var tuned = Run("edge-gpu", "train", "char-mlp", "--steps", "5", "--eval-interval", "5", "--eval-iters", "2", "--sample", "0", "--quiet", "--out", "device", "--device", Device);
        Assert.True(tuned.ExitCode == 0, tuned.ToString());
        foreach (var model in new[] { "cpu/model.safetensors", "device/model.safetensors" })
        {
            var onCpu = Run("edge", "eval", "--model", model, "--data", "text.txt", "--quiet");
            var onDevice = Run("edge-gpu", "eval", "--model", model, "--data", "text.txt", "--quiet", "--device", Device);
            Assert.True(onCpu.ExitCode == 0 && onDevice.ExitCode == 0, onCpu + "\n" + onDevice);
            Assert.Equal(Loss(onCpu.Stdout), Loss(onDevice.Stdout), 2e-4);
        }

        string[] generate = ["generate", "--model", "cpu/model.safetensors", "--prompt", "the ", "--tokens", "24", "--temperature", "0", "--quiet"];
        var text = Run("edge", generate);
        var deviceText = Run("edge-gpu", [.. generate, "--device", Device]);
        Assert.True(text.ExitCode == 0 && deviceText.ExitCode == 0, text + "\n" + deviceText);
        Assert.Equal(text.Stdout, deviceText.Stdout);
    }

    [Fact]
    public void BadDevices_AreOneLine_WithTheDocumentedExitCodes()
    {
        var unknown = Run("edge-gpu", "train", "baby-gpt", "--device", "tpu");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Equal("edge-gpu: option --device: expected cpu or cuda, got 'tpu'", unknown.Stderr.Trim());

        var other = Run("edge-gpu", "quantize", "--device", "cpu");
        Assert.Equal(2, other.ExitCode);
        Assert.Contains("'quantize' is an edge command", other.Stderr);

        if (Device == "cuda") return;   // the tests run on a machine with a driver
        var cuda = Run("edge-gpu", "bench", "train", "baby-gpt", "--device", "cuda");
        Assert.True(cuda.ExitCode == 1, cuda.ToString());
        var line = Assert.Single(cuda.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("edge-gpu: ", line);
        Assert.Contains("CUDA", line);
        Assert.DoesNotContain("   at ", cuda.Stderr);
    }

    [Fact]
    public void Bench_OnTheDevice_ReportsStepsAndTokens()
    {
        var train = Run("edge-gpu", "bench", "train", "baby-gpt", "--batch", "2", "--context", "16", "--steps", "2", "--quiet", "--json", "--device", Device);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Matches("\"ms_per_step_median\":[0-9.]+", train.Stdout);
        Assert.DoesNotContain("percent_of_peak", train.Stdout);
        var generate = Run("edge-gpu", "bench", "generate", "baby-gpt", "--tokens", "3", "--quiet", "--device", Device);
        Assert.True(generate.ExitCode == 0, generate.ToString());
        Assert.Contains("(on the device)", generate.Stdout);
    }
}
