namespace Edge.Lora;

/// <summary>
/// The hyper-parameters of a LoRA adapter, as PEFT's adapter_config.json names them: rank r, lora_alpha, lora_dropout
/// and the target modules (Hugging Face GPT-2 module names inside every block: "attn.c_attn", "attn.c_proj",
/// "mlp.c_fc", "mlp.c_proj"). The term added to a target's output is (alpha / r) * dropout(x) A^T B^T
/// (alpha / sqrt(r) with <see cref="UseRsLora"/>).
/// </summary>
public sealed record LoraConfig(int Rank, double Alpha, double Dropout, IReadOnlyList<string> Targets)
{
    /// <summary>The modules a target may name; the course's default is the attention's fused QKV projection.</summary>
    public static readonly IReadOnlyList<string> ValidTargets = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"];

    public static readonly IReadOnlyList<string> DefaultTargets = ["attn.c_attn"];

    /// <summary>Rank-stabilised scaling alpha / sqrt(r) (PEFT's use_rslora) instead of alpha / r.</summary>
    public bool UseRsLora { get; init; }

    /// <summary>What adapter_config.json calls base_model_name_or_path (the base's folder or model name).</summary>
    public string BaseModel { get; init; } = "";

    /// <summary>The factor on the adapter's term before any run-time scale.</summary>
    public float Scaling => (float)(UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank);

    /// <summary>Checks the numbers and the targets; an invalid target is refused naming the valid ones.</summary>
    public LoraConfig Validate()
    {
        if (Rank < 1) throw new EdgeException($"LoRA rank must be at least 1, got {Rank}");
        if (!(Alpha > 0) || !double.IsFinite(Alpha)) throw new EdgeException($"LoRA alpha must be positive, got {Alpha}");
        if (!(Dropout >= 0 && Dropout < 1)) throw new EdgeException($"LoRA dropout must be in [0, 1), got {Dropout}");
        if (Targets.Count == 0) throw new EdgeException($"LoRA needs at least one target module (valid: {string.Join(", ", ValidTargets)})");
        foreach (var t in Targets)
            if (!ValidTargets.Contains(t))
                throw new EdgeException($"'{EdgeException.OneLine(t)}' is not a LoRA target (valid: {string.Join(", ", ValidTargets)})");
        if (Targets.Distinct().Count() != Targets.Count) throw new EdgeException($"LoRA targets repeat a module: {EdgeException.OneLine(string.Join(", ", Targets))}");
        return this;
    }

    /// <summary>
    /// Target names as given on a command line or in a PEFT config: "c_attn" and "c_fc" are unambiguous short forms;
    /// "c_proj" (both the attention's and the MLP's output projection, as PEFT's suffix match reads it) means both.
    /// </summary>
    public static IReadOnlyList<string> ParseTargets(IEnumerable<string> names)
    {
        var result = new List<string>();
        foreach (var raw in names)
        {
            var name = raw.Trim();
            IEnumerable<string> expanded = name switch
            {
                "c_attn" => ["attn.c_attn"],
                "c_fc" => ["mlp.c_fc"],
                "c_proj" => ["attn.c_proj", "mlp.c_proj"],
                _ => [name],
            };
            foreach (var t in expanded)
                if (!result.Contains(t)) result.Add(t);
        }
        return result;
    }

    /// <summary>
    /// The projection sites of <paramref name="layout"/> the targets select: module "attn.c_attn" is site
    /// "h.N.attn.c_attn" for every block N. A model without such a module (a window MLP) is refused by name.
    /// </summary>
    public IReadOnlyList<ProjectionInfo> Sites(ModelLayout layout)
    {
        Validate();
        var sites = layout.Projections.Where(p => !p.Transposed && Targets.Any(t => IsSiteOf(p.Name, t))).ToList();
        if (sites.Count == 0)
            throw new EdgeException($"model {layout.ModelName} has no {string.Join(" or ", Targets)} module for LoRA (LoRA targets the blocks of a transformer: {string.Join(", ", ValidTargets)})");
        return sites;
    }

    /// <summary>Whether "h.3.attn.c_attn" is block 3's instance of "attn.c_attn".</summary>
    static bool IsSiteOf(string site, string target)
    {
        if (!site.StartsWith("h.", StringComparison.Ordinal) || !site.EndsWith("." + target, StringComparison.Ordinal)) return false;
        var block = site.AsSpan(2, site.Length - 2 - target.Length - 1);
        return block.Length > 0 && int.TryParse(block, out _);
    }
}
