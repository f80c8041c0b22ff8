using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Edge.Text;

namespace Edge;

/// <summary>
/// llama2.c's checkpoint format (the one its run.c reads; written by its export.py's legacy export): seven int32
///   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: the classifier is not shared), seq_len
/// then float32 tensors, each matrix [out, in] row-major and stacked over layers:
///   token_embedding_table [V, dim]; rms_att_weight [L, dim]; wq [L, H hs, dim]; wk, wv [L, KvH hs, dim];
///   wo [L, dim, H hs]; rms_ffn_weight [L, dim]; w1 [L, hidden, dim]; w2 [L, dim, hidden]; w3 [L, hidden, dim];
///   rms_final_weight [dim]; freq_cis_real, freq_cis_imag [seq_len, hs / 2] (not used); wcls [V, dim] when not shared.
/// run.c's RoPE pairs channels (2i, 2i + 1), theta 10000, and its RMSNorm epsilon is 1e-5. w1 is the gate, w3 the up
/// projection, w2 the down projection. A declared model with interleaved RoPE loads the weights as they are; one with the
/// half layout (Hugging Face's) loads them with each head's q and k rows permuted, which computes the same function.
/// </summary>
public static class Llama2cCheckpoint
{
    const int HeaderInts = 7;
    const uint Version1Magic = 0x616b3432;   // "ak42": export.py's newer versions, which run.c does not read

    public sealed record Header(int Dim, int Hidden, int Layers, int Heads, int KvHeads, int VocabSize, int SeqLen, bool SharedClassifier)
    {
        public int HeadSize => Dim / Heads;
        public int KvDim => KvHeads * HeadSize;

        /// <summary>Floats after the header, the unused RoPE tables included.</summary>
        public long FloatCount =>
            (long)VocabSize * Dim + Layers * ((long)Dim * 2 + (long)Dim * Dim * 2 + (long)KvDim * Dim * 2 + (long)Hidden * Dim * 3)
            + Dim + (long)SeqLen * HeadSize + (SharedClassifier ? 0 : (long)VocabSize * Dim);
    }

    public static bool IsCheckpoint(string path) => path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) && File.Exists(path);

    public static Header ReadHeader(string path)
    {
        Files.SafeFile.CheckInput(path);
        var bytes = new byte[HeaderInts * 4];
        long length;
        using (var f = File.OpenHandle(path))
        {
            length = RandomAccess.GetLength(f);
            if (length < bytes.Length || RandomAccess.Read(f, bytes, 0) != bytes.Length)
                throw new EdgeException($"{path}: too short for a llama2.c checkpoint header ({length} bytes)");
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) == Version1Magic)
            throw new EdgeException($"{path}: a llama2.c version 1/2 export (magic \"ak42\"); Edge reads the legacy format run.c reads (export.py --version 0)");
        int I(int k) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4 * k));
        var h = new Header(I(0), I(1), I(2), I(3), I(4), Math.Abs(I(5)), I(6), I(5) > 0);
        if (h.Dim <= 0 || h.Hidden <= 0 || h.Layers <= 0 || h.Heads <= 0 || h.KvHeads <= 0 || h.VocabSize <= 0 || h.SeqLen <= 0
            || h.Dim % h.Heads != 0 || h.Heads % h.KvHeads != 0 || h.HeadSize % 2 != 0 || h.Dim > 1 << 16 || h.Hidden > 1 << 18 || h.Layers > 1024)
            throw new EdgeException($"{path}: not a llama2.c checkpoint (header dim {h.Dim}, hidden {h.Hidden}, layers {h.Layers}, heads {h.Heads}, " +
                $"kv heads {h.KvHeads}, vocab {h.VocabSize}, seq_len {h.SeqLen})");
        long expected = HeaderInts * 4 + 4 * h.FloatCount;
        if (length != expected)
            throw new EdgeException($"{path}: {length} bytes, but its header (dim {h.Dim}, {h.Layers} layers, vocab {h.VocabSize}) needs {expected}");
        return h;
    }

    /// <summary>
    /// Builds the declared model of the checkpoint's shape and fills it. <paramref name="tokenizer"/> null reads the
    /// tokenizer.bin beside the checkpoint (llama2.c's convention).
    /// </summary>
    public static Checkpoint.Loaded Load(string path, IReadOnlyList<ModelInfo> models, ITokenizer? tokenizer = null)
    {
        var h = ReadHeader(path);
        static bool Fits(LlamaShape s, Header h) => s.Layers == h.Layers && s.Heads == h.Heads && s.KvHeads == h.KvHeads && s.Width == h.Dim
            && s.MlpHidden == h.Hidden && s.Context <= h.SeqLen && s.TiedHead == h.SharedClassifier && !s.QkvBias
            && s.RopeTheta == 10000 && s.NormEpsilon == 1e-5 && s.FinalNormEpsilon == 1e-5;
        var info = models.FirstOrDefault(m => m.Llama is { Rope: RopeLayout.Interleaved } s && Fits(s, h))
            ?? models.FirstOrDefault(m => m.Llama is { } s && Fits(s, h))
            ?? throw new EdgeException($"{path}: no declared model has {h.Layers} layers, {h.Heads} heads over {h.KvHeads} kv heads, width {h.Dim}, " +
                $"MLP {h.Hidden}{(h.SharedClassifier ? ", a tied head" : ", an untied head")}, rope theta 10000 and rms eps 1e-5 " +
                $"(declared Llama models: {string.Join(", ", models.Where(m => m.Llama is not null).Select(m => m.Name))}); declare it with [LlamaBlocks]");
        tokenizer ??= Llama2cTokenizerFile(path);
        if (tokenizer.VocabSize != h.VocabSize)
            throw new EdgeException($"{path}: the tokenizer has {tokenizer.VocabSize} tokens but the checkpoint's vocabulary is {h.VocabSize}");
        var model = info.Create(h.VocabSize);
        try
        {
            bool permute = info.Llama!.Rope == RopeLayout.Half;
            using var file = File.OpenHandle(path);
            long at = HeaderInts * 4;
            void Read(string name, int layer = -1, bool permuteRows = false)
            {
                var p = model.Layout.Find(layer < 0 ? name : $"model.layers.{layer}.{name}")!;
                var values = model.Weights.Slice(p.Offset, p.Length);
                ReadFloats(file, path, values, at);
                at += 4L * p.Length;
                Checkpoint.CheckFinite(path, p.Name, values);
                if (permuteRows) InterleavedToHalf(values, p.Shape[1], h.HeadSize);
            }
            void Stacked(string name, bool permuteRows = false)
            {
                for (int l = 0; l < h.Layers; l++) Read(name, l, permuteRows);
            }
            Read("model.embed_tokens.weight");
            Stacked("input_layernorm.weight");
            Stacked("self_attn.q_proj.weight", permute);
            Stacked("self_attn.k_proj.weight", permute);
            Stacked("self_attn.v_proj.weight");
            Stacked("self_attn.o_proj.weight");
            Stacked("post_attention_layernorm.weight");
            Stacked("mlp.gate_proj.weight");   // w1
            Stacked("mlp.down_proj.weight");   // w2
            Stacked("mlp.up_proj.weight");     // w3
            Read("model.norm.weight");
            at += 4L * h.SeqLen * h.HeadSize;  // freq_cis_real and freq_cis_imag
            if (!h.SharedClassifier) Read("lm_head.weight");
        }
        catch
        {
            model.Dispose();
            throw;
        }
        var metadata = new Dictionary<string, string> { ["edge.source"] = path, ["edge.format"] = "llama2.c" };
        return new Checkpoint.Loaded(info, model, tokenizer, metadata);
    }

    /// <summary>Writes a Llama-family model in llama2.c's format (RoPE tables included, as export.py writes them).</summary>
    public static void Write(string path, LanguageModel model)
    {
        var s = model.Info.Llama ?? throw new EdgeException($"{model.Name} is not a Llama-family model");
        if (s.QkvBias) throw new EdgeException($"{model.Name} has q/k/v biases, which llama2.c's format cannot hold");
        int hs = s.HeadSize;
        bool permute = s.Rope == RopeLayout.Half;
        Files.SafeFile.Write(path, stream =>
        {
            var header = new byte[HeaderInts * 4];
            int[] values = [s.Width, s.MlpHidden, s.Layers, s.Heads, s.KvHeads, s.TiedHead ? model.VocabSize : -model.VocabSize, s.Context];
            for (int k = 0; k < values.Length; k++) BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4 * k), values[k]);
            stream.Write(header);
            void Put(string name, bool permuteRows = false)
            {
                var p = model.Layout.Find(name)!;
                var w = model.Weights.Slice(p.Offset, p.Length).ToArray();
                if (permuteRows) HalfToInterleaved(w, p.Shape[1], hs);
                stream.Write(MemoryMarshal.AsBytes(w.AsSpan()));
            }
            void Stacked(string name, bool permuteRows = false)
            {
                for (int l = 0; l < s.Layers; l++) Put($"model.layers.{l}.{name}", permuteRows);
            }
            Put("model.embed_tokens.weight");
            Stacked("input_layernorm.weight");
            Stacked("self_attn.q_proj.weight", permute);
            Stacked("self_attn.k_proj.weight", permute);
            Stacked("self_attn.v_proj.weight");
            Stacked("self_attn.o_proj.weight");
            Stacked("post_attention_layernorm.weight");
            Stacked("mlp.gate_proj.weight");
            Stacked("mlp.down_proj.weight");
            Stacked("mlp.up_proj.weight");
            Put("model.norm.weight");
            var (cos, sin) = Kernels.Rope.Table(s.Context, hs, 10000);
            stream.Write(MemoryMarshal.AsBytes(cos.AsSpan()));
            stream.Write(MemoryMarshal.AsBytes(sin.AsSpan()));
            if (!s.TiedHead) Put("lm_head.weight");
        });
    }

    /// <summary>Rows [heads * hs, cols]: interleaved pair (2i, 2i + 1) of each head becomes half pair (i, i + hs/2).</summary>
    internal static void InterleavedToHalf(Span<float> w, int cols, int hs) => Permute(w, cols, hs, toHalf: true);

    internal static void HalfToInterleaved(Span<float> w, int cols, int hs) => Permute(w, cols, hs, toHalf: false);

    static void Permute(Span<float> w, int cols, int hs, bool toHalf)
    {
        int rows = w.Length / cols;
        var copy = w.ToArray();
        for (int r = 0; r < rows; r++)
        {
            int head = r / hs, k = r % hs;
            // k in the interleaved layout is 2i + pair; in the half layout i + pair * hs/2.
            int i = toHalf ? k / 2 : k % (hs / 2), pair = toHalf ? k % 2 : k / (hs / 2);
            int target = head * hs + (toHalf ? i + pair * hs / 2 : 2 * i + pair);
            copy.AsSpan(r * cols, cols).CopyTo(w.Slice(target * cols, cols));
        }
    }

    static void ReadFloats(Microsoft.Win32.SafeHandles.SafeFileHandle file, string path, Span<float> values, long offset)
    {
        var bytes = MemoryMarshal.AsBytes(values);
        while (!bytes.IsEmpty)
        {
            int n = RandomAccess.Read(file, bytes, offset);
            if (n <= 0) throw new EdgeException($"{path}: the file ended early (it changed while loading)");
            bytes = bytes[n..];
            offset += n;
        }
    }

    static ITokenizer Llama2cTokenizerFile(string path)
    {
        string tokenizer = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer.bin");
        return TokenizerFiles.LoadLlama2c(tokenizer);
    }
}
