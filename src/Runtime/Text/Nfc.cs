using System.Text;

namespace Edge.Text;

/// <summary>
/// Unicode normalisation form C (canonical decomposition, canonical ordering, canonical composition, UAX #15), for
/// Qwen2's NFC normalizer. Edge runs with invariant globalization, where <c>string.Normalize</c> returns the text
/// unchanged, so the data comes from <see cref="NfcData"/> (scripts/nfc-tables.py). Text whose characters are all below
/// U+0300 is already NFC and comes back as is.
/// </summary>
public static class Nfc
{
    const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28;
    const int NCount = VCount * TCount, SCount = LCount * NCount;

    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int i = 0;
        while (i < text.Length && text[i] < 0x300) i++;
        if (i == text.Length) return text;

        var cps = new List<int>(text.Length + 8);
        foreach (var rune in text.EnumerateRunes()) Decompose(rune.Value, cps);
        Reorder(cps);
        Compose(cps);
        var sb = new StringBuilder(cps.Count + 8);
        foreach (int cp in cps) sb.Append(new Rune(cp).ToString());
        return sb.ToString();
    }

    static void Decompose(int cp, List<int> into)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            into.Add(LBase + s / NCount);
            into.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) into.Add(TBase + s % TCount);
            return;
        }
        int k = NfcData.DecomposedKeys.BinarySearch(cp);
        if (k < 0) { into.Add(cp); return; }
        var offsets = NfcData.DecompositionOffsets;
        foreach (int d in NfcData.Decompositions[offsets[k]..offsets[k + 1]]) into.Add(d);
    }

    /// <summary>Canonical ordering: a stable sort of every run of nonzero combining classes.</summary>
    static void Reorder(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cc = Class(cps[i]);
            if (cc == 0) continue;
            for (int j = i; j > 0 && Class(cps[j - 1]) > cc; j--) (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
        }
    }

    /// <summary>Each character joins the last starter when nothing between blocks it (a starter, or a class not below its own).</summary>
    static void Compose(List<int> cps)
    {
        int starter = -1, lastClass = 0, o = 0;
        for (int i = 0; i < cps.Count; i++)
        {
            int cp = cps[i], cc = Class(cp);
            if (starter >= 0 && (o - 1 == starter || lastClass != 0 && lastClass < cc) && Composite(cps[starter], cp) is int composed)
            {
                cps[starter] = composed;
                continue;
            }
            if (cc == 0) starter = o;
            lastClass = cc;
            cps[o++] = cp;
        }
        cps.RemoveRange(o, cps.Count - o);
    }

    static int? Composite(int a, int b)
    {
        if (a is >= LBase and < LBase + LCount && b is >= VBase and < VBase + VCount)
            return SBase + ((a - LBase) * VCount + b - VBase) * TCount;
        if (a is >= SBase and < SBase + SCount && (a - SBase) % TCount == 0 && b is > TBase and < TBase + TCount)
            return a + b - TBase;
        int k = NfcData.CompositionPairs.BinarySearch((long)a << 21 | (uint)b);
        return k >= 0 ? NfcData.Composites[k] : null;
    }

    static int Class(int cp)
    {
        var ranges = NfcData.CombiningClasses;
        int lo = 0, hi = ranges.Length / 3 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            if (cp < ranges[mid * 3]) hi = mid - 1;
            else if (cp > ranges[mid * 3 + 1]) lo = mid + 1;
            else return ranges[mid * 3 + 2];
        }
        return 0;
    }
}
