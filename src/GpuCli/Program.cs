using Edge;
using Edge.Cli;
using Edge.Gpu;
using Edge.GpuCli;

// edge-gpu: edge's train, generate, eval and bench with the passes on a device: --device cuda (the default: the first
// CUDA GPU) or --device cpu (ILGPU's CPU accelerator, a simulator for checking). Everything else is edge's: options,
// data, checkpoints (interchangeable with edge's), output and exit codes. The device's name and memory go to stderr.
string[] commands = ["train", "generate", "eval", "bench"];
return Host.Run("edge-gpu", () =>
{
    var (kind, rest) = DeviceOption(args);
    if (rest.Length == 0 || rest[0] is "--help" or "-h" or "help")
    {
        Console.WriteLine(Usage);
        return rest.Length == 0 ? 2 : 0;
    }
    if (!commands.Contains(rest[0]))
        throw new UsageException($"'{rest[0]}' is an edge command (run it with edge); edge-gpu runs {string.Join(", ", commands)}");
    if (rest.Contains("--help") || rest.Contains("-h")) return Commands.Run(rest);
    using var device = GpuDevice.Open(kind);
    Console.Error.WriteLine($"edge-gpu: {device.Describe()}");
    Backend.Current = new DeviceBackend(device);
    return Commands.Run(rest);
});

static (string Kind, string[] Remaining) DeviceOption(string[] argv)
{
    string kind = "cuda";
    var rest = new List<string>();
    for (int i = 0; i < argv.Length; i++)
    {
        if (argv[i] == "--device")
        {
            if (i + 1 >= argv.Length) throw new UsageException("option --device needs a value (cpu or cuda)");
            kind = argv[++i];
        }
        else if (argv[i].StartsWith("--device=", StringComparison.Ordinal)) kind = argv[i]["--device=".Length..];
        else
        {
            rest.Add(argv[i]);
            continue;
        }
        if (kind is not ("cpu" or "cuda")) throw new UsageException($"option --device: expected cpu or cuda, got '{kind}'");
    }
    return (kind, rest.ToArray());
}

partial class Program
{
    const string Usage = """
        edge-gpu: edge's train, generate, eval and bench with the passes on a GPU (ILGPU).

        Usage: edge-gpu COMMAND [options] [--device cuda|cpu]

        Commands: train, generate, eval, bench (their options are edge's: edge-gpu COMMAND --help)
          --device cuda   the first CUDA GPU (default); needs the NVIDIA driver (libcuda.so.1), not the CUDA toolkit
          --device cpu    ILGPU's CPU accelerator: the same kernels run by a simulator, slowly (for checking)

        Checkpoints are edge's: a model trained here loads in edge and the other way round. Dropout draws its own
        random stream on a device (a run with dropout is reproducible here, not equal to edge's).

        Examples:
          edge-gpu train shakespeare-gpt --data ../shared/data/tinyshakespeare.txt --batch 64 --steps 5000
          edge-gpu bench train gpt2 --vocab 50257 --batch 4 --context 1024
          edge-gpu generate --model models/baby-gpt/model.safetensors --prompt "ROMEO:" --device cpu
        """;
}
