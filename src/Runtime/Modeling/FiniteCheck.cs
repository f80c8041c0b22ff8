using System.Numerics.Tensors;

namespace Edge;

/// <summary>
/// Stops a command when numbers stop being numbers: weights that overflow (finite values such as 3e38 whose products
/// are not), a NaN or infinite loss or logit. Each check names what produced the value, so the user gets one line
/// instead of NaN text or a "loss NaN" that exits 0.
/// </summary>
public static class FiniteCheck
{
    /// <summary>Throws when any weight of <paramref name="model"/> is NaN or infinite, naming the tensor and element.</summary>
    public static void Weights(LanguageModel model, string what)
    {
        var w = model.Weights;
        if (float.IsFinite(TensorPrimitives.Sum(w)) || AllFinite(w)) return;
        throw new EdgeException($"{what}: {DescribeNonFinite(model.Parameters, w, "value")}");
    }

    /// <summary>The error for a loss that is NaN or infinite; <paramref name="where"/> says which examples gave it.</summary>
    public static EdgeException LossError(double loss, string where) =>
        new($"the loss on {where} is {loss}: the model's logits are not finite (its weights, or an adapter's scale, overflow)");

    /// <summary>Throws when some logit is NaN or infinite (a finite model gives finite logits); allocates nothing otherwise.</summary>
    public static void Logits(ReadOnlySpan<float> logits, int tokens)
    {
        // One pass: the sum of finite values is finite unless it overflows, and then the values are checked one by one.
        if (float.IsFinite(TensorPrimitives.Sum(logits)) || AllFinite(logits)) return;
        throw new EdgeException($"the model's logits after {tokens} tokens are not finite (its weights, or an adapter's scale, overflow)");
    }

    static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
            if (!float.IsFinite(v)) return false;
        return true;
    }

    /// <summary>
    /// Where the first NaN or Inf in <paramref name="values"/> (laid out as <paramref name="parameters"/>) is: "the
    /// gradient of 'h.1.mlp.c_fc.weight' holds NaN at element 17", or the norm's overflow when every value is finite.
    /// </summary>
    internal static string DescribeNonFinite(IReadOnlyList<ParameterInfo> parameters, ReadOnlySpan<float> values, string what)
    {
        foreach (var p in parameters)
        {
            var slice = values.Slice(p.Offset, p.Length);
            for (int i = 0; i < slice.Length; i++)
                if (!float.IsFinite(slice[i]))
                    return $"the {what} of '{p.Name}' holds {slice[i]} at element {i}";
        }
        return $"the {what} norm overflows";
    }
}
