using System.Text;

namespace Edge.Generators.Emitting
{
    /// <summary>A string builder that keeps indentation, so generated files read like hand-written ones.</summary>
    internal sealed class CodeWriter
    {
        readonly StringBuilder _text = new();
        int _indent;

        public CodeWriter Line(string line = "")
        {
            if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
            _text.Append('\n');
            return this;
        }

        public CodeWriter Open(string line)
        {
            Line(line).Line("{");
            _indent++;
            return this;
        }

        public CodeWriter Close(string suffix = "")
        {
            _indent--;
            // No blank line before a closing brace.
            if (_text.Length >= 2 && _text[_text.Length - 1] == '\n' && _text[_text.Length - 2] == '\n') _text.Length--;
            return Line("}" + suffix);
        }

        public override string ToString() => _text.ToString();
    }
}
