using System.Globalization;
using System.Text;
using Edge.Plotting;
using Edge.Text;

namespace Edge.Cli;

/// <summary>`edge plot`: pictures of training logs, token embeddings and attention, as SVG or PNG.</summary>
static class PlotCommand
{
    public const string Help = """
        edge plot: draw pictures as SVG or PNG (chosen by the --out extension).

        Usage: edge plot LOG... --out FILE.svg|FILE.png [--log-y] [--title TEXT]
               edge plot embeddings --model FILE --out FILE.svg|FILE.png [--title TEXT]
               edge plot attention --model FILE --prompt TEXT --out FILE.svg|FILE.png [--layer L] [--head H] [--title TEXT]

          LOG...        log.csv files written by 'edge train' or 'edge lora train' (or their folders): train and val
                        loss against step, one pair of lines per log named by its folder (an adapter's log starts
                        with the base alone at step 0), learning rate on the right axis
          --log-y       a logarithmic loss axis
          embeddings    the token embedding (wte.weight) projected on its top two principal components,
                        each point labelled with its character
          attention     the attention probabilities of one head (default layer 0, head 0) of a transformer on a
                        prompt: row = query position, column = key position
          --title TEXT  the picture's title (default: what it shows)
          --threads N   attention: cores the kernels use (default: all)
          --quiet       embeddings: no progress bar while the components are computed

        Examples:
          edge plot models/char-mlp/log.csv --out loss.svg
          edge plot models/baby-gpt models/mini-gpt --out compare.png --log-y
          edge plot embeddings --model models/char-mlp/model.safetensors --out embeddings.png
          edge plot attention --model models/baby-gpt/model.safetensors --prompt "ROMEO:" --layer 3 --head 1 --out att.svg
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        var first = args.Positionals.Count > 0 ? args.Positionals[0] : null;
        return first switch
        {
            "embeddings" => Embeddings(args),
            "attention" => Attention(args),
            _ => Logs(args),
        };
    }

    /// <summary>--out: required, and .svg or .png.</summary>
    static string OutPath(Args args)
    {
        var path = args.String("out") ?? throw new UsageException("--out FILE.svg|FILE.png is required (see 'edge plot --help')");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is not (".svg" or ".png"))
            throw new UsageException($"option --out: '{path}' must end in .svg or .png");
        Edge.Files.SafeFile.CheckOutput(path, "--out", [.. args.Positionals]);
        return path;
    }

    static void Saved(string path) => Console.WriteLine($"wrote {path}");

    static int Logs(Args args)
    {
        var outPath = OutPath(args);
        bool logY = args.Flag("log-y");
        var title = args.Text("title");
        args.RejectUnknown(int.MaxValue);
        if (args.Positionals.Count == 0) throw new UsageException("give one or more log.csv files to plot (see 'edge plot --help')");

        var chart = new LineChart { XLabel = "step", YLabel = "loss", RightLabel = "learning rate", LogY = logY };
        var runs = args.Positionals.Select(ReadLog).ToList();
        var names = runs.Select(r => r.Name).ToList();
        for (int i = 0; i < runs.Count; i++)
            if (names.Count(n => n == names[i]) > 1) names[i] = runs[i].Path; // two logs from folders of the same name
        for (int i = 0; i < runs.Count; i++)
        {
            var run = runs[i];
            var color = Charts.Palette[i % Charts.Palette.Length];
            chart.Add(new Series($"{names[i]} train", Measured(run.Rows.Select(r => (r.Step, r.Train))), Color: color, Dashed: true));
            chart.Add(new Series($"{names[i]} val", Measured(run.Rows.Select(r => (r.Step, r.Val))), Color: color));
        }
        for (int i = 0; i < runs.Count; i++)
            if (runs[i].Rows.Any(r => double.IsFinite(r.Lr) && r.Lr > 0))
                chart.Add(new Series(runs.Count == 1 ? "lr" : $"{names[i]} lr", runs[i].Rows.Select(r => (r.Step, r.Lr)).ToList(), YAxis.Right,
                    Color: Rgb.Mix(Charts.Palette[i % Charts.Palette.Length], Rgb.White, 0.55)));
        chart.Title = title ?? (runs.Count == 1 ? $"{names[0]}: loss against step" : "loss against step");
        chart.Save(outPath);
        Saved(outPath);
        return 0;
    }

    sealed record LogRow(double Step, double Train, double Val, double Lr);
    sealed record Log(string Name, string Path, List<LogRow> Rows);

    static Log ReadLog(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "log.csv");
        var lines = Edge.Files.SafeFile.ReadAllText(path, maxBytes: 256 << 20).Split('\n').Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count == 0) throw new EdgeException($"{path}: the log is empty (expected a header 'step,train_loss,val_loss,...' and rows)");
        var header = lines[0].Split(',').Select(h => h.Trim()).ToList();
        int step = header.IndexOf("step"), train = header.IndexOf("train_loss"), val = header.IndexOf("val_loss"), lr = header.IndexOf("lr");
        if (step < 0 || train < 0 || val < 0)
            throw new EdgeException($"{path}: not a training log (its header '{Clip(lines[0])}' lacks step, train_loss and val_loss)");
        if (lines.Count == 1) throw new EdgeException($"{path}: the log has a header but no rows yet");
        var rows = new List<LogRow>();
        for (int i = 1; i < lines.Count; i++)
        {
            var cells = lines[i].Split(',');
            if (cells.Length != header.Count)
                throw new EdgeException($"{path}: line {i + 1} has {cells.Length} fields, the header has {header.Count}");
            // An empty cell is a value the run did not measure at that row (NaN, left out of the line).
            double Cell(int c) => c < 0 || cells[c].Trim().Length == 0 ? double.NaN
                : double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                : throw new EdgeException($"{path}: line {i + 1}: '{Clip(cells[c])}' in column {header[c]} is not a number");
            rows.Add(new LogRow(Cell(step), Cell(train), Cell(val), Cell(lr)));
        }
        var full = Path.GetFullPath(path);
        var folder = Path.GetFileName(Path.GetDirectoryName(full)) ?? "";
        return new Log(folder.Length > 0 ? folder : Path.GetFileNameWithoutExtension(full), path, rows);
    }

    /// <summary>The points a log measured (empty cells left out).</summary>
    static List<(double, double)> Measured(IEnumerable<(double X, double Y)> points) =>
        points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).Select(p => (p.X, p.Y)).ToList();

    static string Clip(string s) => s.Length <= 60 ? s : s[..57] + "...";

    /// <summary>A token as a short visible label: '\n' as "\n", ' ' as "␣", other control characters as \uXXXX.</summary>
    public static string Label(string token)
    {
        var b = new StringBuilder();
        foreach (char c in token)
            b.Append(c switch
            {
                '\n' => "\\n", '\t' => "\\t", '\r' => "\\r", ' ' => "\u2423",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return b.ToString();
    }

    static string TokenLabel(ITokenizer tokenizer, int id) =>
        tokenizer is CharTokenizer chars ? Label(chars.Symbol(id)) : Label(Encoding.UTF8.GetString(tokenizer.TokenBytes(id)));

    static int Embeddings(Args args)
    {
        var modelPath = args.String("model") ?? throw new UsageException("--model FILE is required (see 'edge plot --help')");
        var outPath = OutPath(args);
        var title = args.Text("title");
        bool quiet = args.Flag("quiet");
        args.RejectUnknown(1);

        var loaded = Checkpoint.LoadAny(modelPath, Catalog.All, mapWeights: true);
        using var model = loaded.Model;
        var wte = model.Parameters.FirstOrDefault(p => p.Name == "wte.weight")
            ?? throw new EdgeException($"{modelPath}: model {model.Name} has no token embedding ('wte.weight')");
        int rows = wte.Shape[0], dims = wte.Shape.Length > 1 ? wte.Shape[1] : 1;
        var values = model.Weights.Slice(wte.Offset, wte.Length);
        (double[] X, double[] Y, string What) projection;
        using (var bar = new ProgressBar(rows, "tokens", quiet, status: "covariance of the embeddings"))
            projection = dims >= 2 ? Pca.TopTwo(values, rows, dims, bar) : (ToDoubles(values), new double[rows], "dimension 0");
        var (xs, ys, what) = projection;

        var chart = new ScatterChart
        {
            Title = title ?? $"{model.Name}: token embeddings, {what}",
            XLabel = dims >= 2 ? "component 1" : "dimension 0",
            YLabel = dims >= 2 ? "component 2" : "",
        };
        for (int i = 0; i < rows; i++) chart.Add(xs[i], ys[i], TokenLabel(loaded.Tokenizer, i));
        chart.Save(outPath);
        Saved(outPath);
        return 0;
    }

    static double[] ToDoubles(ReadOnlySpan<float> v)
    {
        var d = new double[v.Length];
        for (int i = 0; i < v.Length; i++) d[i] = v[i];
        return d;
    }

    static int Attention(Args args)
    {
        var modelPath = args.String("model") ?? throw new UsageException("--model FILE is required (see 'edge plot --help')");
        var prompt = args.Text("prompt") ?? throw new UsageException("--prompt TEXT is required for 'edge plot attention'");
        var outPath = OutPath(args);
        int layer = args.Int("layer", 0, min: 0);
        int head = args.Int("head", 0, min: 0);
        var title = args.Text("title");
        args.Threads();
        args.RejectUnknown(1);
        if (prompt.Length == 0) throw new UsageException("option --prompt: the prompt is empty");

        var loaded = Checkpoint.LoadAny(modelPath, Catalog.All, mapWeights: true);
        using var model = loaded.Model;
        var attention = loaded.Info.Slots.Where(a => a.Name.StartsWith("h.", StringComparison.Ordinal) && a.Name.EndsWith(".attn.att", StringComparison.Ordinal)).ToList();
        if (!model.IsSequenceModel || attention.Count == 0)
            throw new EdgeException($"{modelPath}: model {model.Name} is not a transformer (it has no attention to draw)");
        int layers = attention.Count;
        if (layer >= layers) throw new UsageException($"option --layer: {layer} is out of range ({model.Name} has layers 0 to {layers - 1})");
        int context = model.InputLength;
        int heads = attention[0].Width;
        if (head >= heads) throw new UsageException($"option --head: {head} is out of range ({model.Name} has heads 0 to {heads - 1})");

        int[] ids;
        try { ids = loaded.Tokenizer.Encode(prompt); }
        catch (EdgeException e) { throw new EdgeException($"--prompt: {e.Message}"); }
        int t = ids.Length;
        if (t == 0) throw new EdgeException("--prompt: the prompt encodes to no tokens");
        if (t > context) throw new EdgeException($"--prompt: {t} tokens is longer than {model.Name}'s context of {context}");

        using var pass = model.CreateInferenceContext(1, keepActivations: true);
        pass.Logits(ids, 1, t);
        var att = pass.ActivationValues($"h.{layer}.attn.att", heads * t * t); // [1, H, T, T]
        var matrix = new float[t, t];
        for (int r = 0; r < t; r++)
            for (int c = 0; c < t; c++) matrix[r, c] = att[head * t * t + r * t + c];

        var map = new HeatMap(matrix, ids.Select(id => TokenLabel(loaded.Tokenizer, id)).ToList())
        {
            Title = title ?? $"{model.Name}: attention, layer {layer}, head {head}",
        };
        map.Save(outPath);
        Saved(outPath);
        return 0;
    }
}

/// <summary>The top two principal components of a matrix's rows, by power iteration on the covariance (no libraries).</summary>
static class Pca
{
    /// <summary>Row coordinates on components 1 and 2 of a [rows, dims] matrix, and a description with the variance they explain.</summary>
    public static (double[] X, double[] Y, string What) TopTwo(ReadOnlySpan<float> values, int rows, int dims, ProgressBar? progress = null)
    {
        var mean = new double[dims];
        for (int r = 0; r < rows; r++)
            for (int d = 0; d < dims; d++) mean[d] += values[r * dims + d];
        for (int d = 0; d < dims; d++) mean[d] /= rows;
        var centred = new double[rows * dims];
        for (int r = 0; r < rows; r++)
            for (int d = 0; d < dims; d++) centred[r * dims + d] = values[r * dims + d] - mean[d];
        var cov = new double[dims * dims];
        // The covariance from at most ~2e9 multiply-adds: a large vocabulary (GPT-2's 50k tokens) is sampled evenly.
        int stride = (int)Math.Max(1, (long)rows * dims * dims / 2_000_000_000L);
        for (int r = 0; r < rows; r += stride)
        {
            for (int i = 0; i < dims; i++)
            {
                double a = centred[r * dims + i];
                if (a == 0) continue;
                for (int j = 0; j < dims; j++) cov[i * dims + j] += a * centred[r * dims + j];
            }
            progress?.Report(r + 1);
        }
        if (progress is not null) progress.Status = "power iteration";
        double total = 0;
        for (int i = 0; i < dims; i++) total += cov[i * dims + i];

        var (v1, l1) = Top(cov, dims, null);
        var (v2, l2) = Top(cov, dims, v1);
        var x = new double[rows];
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int d = 0; d < dims; d++) { x[r] += centred[r * dims + d] * v1[d]; y[r] += centred[r * dims + d] * v2[d]; }
        string what = total > 0 ? $"PCA ({100 * (l1 + l2) / total:0}% of the variance)" : "PCA";
        return (x, y, what);
    }

    /// <summary>The leading eigenvector (unit length, largest entry positive) and eigenvalue, orthogonal to <paramref name="not"/>.</summary>
    static (double[] Vector, double Value) Top(double[] m, int n, double[]? not)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = 1.0 + 0.01 * ((i * 7919) % 13);
        double lambda = 0;
        var w = new double[n];
        for (int iter = 0; iter < 500; iter++)
        {
            if (not is not null) Remove(v, not);
            if (!Normalize(v)) return (v, 0);
            for (int i = 0; i < n; i++)
            {
                double s = 0;
                for (int j = 0; j < n; j++) s += m[i * n + j] * v[j];
                w[i] = s;
            }
            if (not is not null) Remove(w, not);
            double next = 0;
            for (int i = 0; i < n; i++) next += w[i] * v[i];
            double change = 0;
            double norm = Math.Sqrt(w.Sum(e => e * e));
            if (norm == 0) return (v, 0);
            for (int i = 0; i < n; i++) change = Math.Max(change, Math.Abs(w[i] / norm - v[i]));
            Array.Copy(w, v, n);
            lambda = next;
            if (change < 1e-10) break;
        }
        Normalize(v);
        int big = 0;
        for (int i = 1; i < n; i++) if (Math.Abs(v[i]) > Math.Abs(v[big])) big = i;
        if (v[big] < 0) for (int i = 0; i < n; i++) v[i] = -v[i];
        return (v, lambda);
    }

    static void Remove(double[] v, double[] u)
    {
        double d = 0;
        for (int i = 0; i < v.Length; i++) d += v[i] * u[i];
        for (int i = 0; i < v.Length; i++) v[i] -= d * u[i];
    }

    static bool Normalize(double[] v)
    {
        double s = Math.Sqrt(v.Sum(e => e * e));
        if (s == 0 || !double.IsFinite(s)) return false;
        for (int i = 0; i < v.Length; i++) v[i] /= s;
        return true;
    }
}
