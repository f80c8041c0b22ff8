namespace Edge.Lora;

/// <summary>
/// Several adapters loaded for one base, each switched on or off and scaled independently: assign the set to a
/// context's <see cref="ModelContext.Adapters"/>. Switching changes two numbers in this set; the base's weights are
/// never copied or written, and nothing is allocated. Sets that share adapters (<see cref="View"/>) keep their own
/// switches, so contexts on one model generate with different adapters side by side. With nothing active the model computes exactly what the bare base computes.
/// </summary>
public sealed class AdapterSet : ProjectionAdapters
{
    readonly LoraAdapter[] _adapters;
    readonly float[] _scales;        // per adapter; 0 = off
    readonly int[] _active;          // indices of the adapters that are on, in load order
    int _activeCount;

    /// <param name="layout">The base's layout: every adapter must have been made for it.</param>
    public AdapterSet(ModelLayout layout, IEnumerable<LoraAdapter> adapters)
    {
        _adapters = adapters.ToArray();
        foreach (var a in _adapters)
            if (!a.Fits(layout))
                throw new EdgeException($"adapter '{a.Name}' was made for {a.ModelName} and does not fit {layout.ModelName}'s projections");
        _scales = new float[_adapters.Length];
        _active = new int[_adapters.Length];
    }

    public IReadOnlyList<LoraAdapter> Adapters => _adapters;
    public int ActiveCount => _activeCount;

    /// <summary>Another set over the same adapters with its own switches (all off).</summary>
    public AdapterSet View() => new(_adapters);

    AdapterSet(LoraAdapter[] adapters)
    {
        _adapters = adapters;
        _scales = new float[adapters.Length];
        _active = new int[adapters.Length];
    }

    /// <summary>The scale of adapter <paramref name="index"/> (0 when off).</summary>
    public float Scale(int index) => _scales[index];

    public int IndexOf(string name)
    {
        for (int i = 0; i < _adapters.Length; i++)
            if (_adapters[i].Name == name) return i;
        throw new EdgeException($"no adapter named '{name}' (loaded: {string.Join(", ", _adapters.Select(a => a.Name))})");
    }

    /// <summary>Switches adapter <paramref name="index"/> on with a scale on its term (1 = as trained); 0 switches it off.</summary>
    public void Activate(int index, float scale = 1f)
    {
        if ((uint)index >= (uint)_adapters.Length) throw new ArgumentOutOfRangeException(nameof(index));
        if (!float.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), "an adapter's scale must be finite");
        _scales[index] = scale;
        Rebuild();
    }

    public void Deactivate(int index) => Activate(index, 0f);

    /// <summary>Only adapter <paramref name="index"/> on, at <paramref name="scale"/>.</summary>
    public void ActivateOnly(int index, float scale = 1f)
    {
        Array.Clear(_scales);
        Activate(index, scale);
    }

    public void DeactivateAll()
    {
        Array.Clear(_scales);
        _activeCount = 0;
    }

    void Rebuild()
    {
        int n = 0;
        for (int i = 0; i < _scales.Length; i++)
            if (_scales[i] != 0f) _active[n++] = i;
        _activeCount = n;
    }

    public override void Forward(int site, ReadOnlySpan<float> x, Span<float> y, int rows, bool training)
    {
        for (int k = 0; k < _activeCount; k++)
        {
            int i = _active[k];
            _adapters[i].Forward(site, x, y, rows, training, _scales[i]);
        }
    }

    public override void Backward(int site, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int rows)
    {
        for (int k = _activeCount - 1; k >= 0; k--)
        {
            int i = _active[k];
            _adapters[i].Backward(site, x, dy, dx, rows, _scales[i]);
        }
    }
}
