namespace Edge.Text;

/// <summary>Unicode normalisation form C (placeholder).</summary>
public static class Nfc
{
    public static string Normalize(string text) => text;
}
