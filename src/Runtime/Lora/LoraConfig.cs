namespace Edge.Lora;

/// <summary>
/// The hyper-parameters of a LoRA adapter, as PEFT's adapter_config.json names them: rank r, lora_alpha, lora_dropout
/// and the target modules: Hugging Face's module names inside every block, GPT-2's ("attn.c_attn", "attn.c_proj",
/// "mlp.c_fc", "mlp.c_proj") or Llama's ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
/// "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"; PEFT's configs name them by their last part, "q_proj"). The term
/// added to a target's output is (alpha / r) * dropout(x) A^T B^T (alpha / sqrt(r) with <see cref="UseRsLora"/>).
/// </summary>
public sealed record LoraConfig(int Rank, double Alpha, double Dropout, IReadOnlyList<string> Targets)
{
    /// <summary>GPT-2's modules a target may name; the course's default is the attention's fused QKV projection.</summary>
    public static readonly IReadOnlyList<string> ValidTargets = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"];

    public static readonly IReadOnlyList<string> DefaultTargets = ["attn.c_attn"];

    /// <summary>The Llama family's modules; PEFT's default for Llama is q_proj and v_proj.</summary>
    public static readonly IReadOnlyList<string> LlamaTargets =
        ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    public static readonly IReadOnlyList<string> LlamaDefaultTargets = ["self_attn.q_proj", "self_attn.v_proj"];

    /// <summary>Every module name a target may be.</summary>
    static IEnumerable<string> AllTargets => ValidTargets.Concat(LlamaTargets);

    /// <summary>The default targets for a model: the fused QKV projection of GPT-2 blocks, q_proj and v_proj of Llama blocks.</summary>
    public static IReadOnlyList<string> DefaultTargetsFor(ModelLayout layout) =>
        layout.Projections.Any(p => p.Name.StartsWith("model.layers.", StringComparison.Ordinal)) ? LlamaDefaultTargets : DefaultTargets;

    /// <summary>Rank-stabilised scaling alpha / sqrt(r) (PEFT's use_rslora) instead of alpha / r.</summary>
    public bool UseRsLora { get; init; }

    /// <summary>What adapter_config.json calls base_model_name_or_path (the base's folder or model name).</summary>
    public string BaseModel { get; init; } = "";

    /// <summary>The largest alpha / r accepted (PEFT's usual values give 0.5 to 4): beyond it an adapter's term only overflows.</summary>
    public const float MaxScaling = 10_000;

    /// <summary>The factor on the adapter's term before any run-time scale.</summary>
    public float Scaling => (float)(UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank);

    /// <summary>Checks the numbers and the targets; an invalid target is refused naming the valid ones.</summary>
    public LoraConfig Validate()
    {
        if (Rank < 1) throw new EdgeException($"LoRA rank must be at least 1, got {Rank}");
        if (!(Alpha > 0) || !double.IsFinite(Alpha)) throw new EdgeException($"LoRA alpha must be positive, got {Alpha}");
        if (Scaling > MaxScaling)
            throw new EdgeException($"LoRA alpha {Alpha:G4} with rank {Rank} scales the adapter's term by {Scaling:G4}, beyond {MaxScaling:N0} (its products would overflow)");
        if (!(Dropout >= 0 && Dropout < 1)) throw new EdgeException($"LoRA dropout must be in [0, 1), got {Dropout}");
        if (Targets.Count == 0) throw new EdgeException($"LoRA needs at least one target module (valid: {string.Join(", ", AllTargets)})");
        foreach (var t in Targets)
            if (!AllTargets.Contains(t))
                throw new EdgeException($"'{EdgeException.OneLine(t)}' is not a LoRA target (valid: {string.Join(", ", ValidTargets)}; for Llama models {string.Join(", ", LlamaTargets)})");
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
                "q_proj" or "k_proj" or "v_proj" or "o_proj" => ["self_attn." + name],
                "gate_proj" or "up_proj" or "down_proj" => ["mlp." + name],
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
        var sites = layout.Projections.Where(p => Targets.Any(t => IsSiteOf(p.Name, t))).ToList();
        if (sites.Count == 0)
            throw new EdgeException($"model {layout.ModelName} has no {string.Join(" or ", Targets)} module for LoRA (LoRA targets the blocks of a transformer: " +
                $"{string.Join(", ", DefaultTargetsFor(layout) == LlamaDefaultTargets ? LlamaTargets : ValidTargets)})");
        return sites;
    }

    /// <summary>The target a block's projection site is an instance of ("h.3.attn.c_attn" -> "attn.c_attn"), or null.</summary>
    public static string? TargetOf(string site) => AllTargets.FirstOrDefault(t => IsSiteOf(site, t));

    /// <summary>Whether a projection site is one of a transformer block's (the ones LoRA targets; not the head).</summary>
    public static bool IsBlockSite(string site) => AllTargets.Any(t => IsSiteOf(site, t));

    /// <summary>Whether "h.3.attn.c_attn" is block 3's instance of "attn.c_attn" (or "model.layers.3.self_attn.q_proj" of "self_attn.q_proj").</summary>
    static bool IsSiteOf(string site, string target)
    {
        foreach (var prefix in new[] { "h.", "model.layers." })
        {
            if (!site.StartsWith(prefix, StringComparison.Ordinal) || !site.EndsWith("." + target, StringComparison.Ordinal)) continue;
            if (site.Length <= prefix.Length + target.Length + 1) continue;
            var block = site.AsSpan(prefix.Length, site.Length - prefix.Length - target.Length - 1);
            if (block.Length > 0 && int.TryParse(block, out _)) return true;
        }
        return false;
    }
}
