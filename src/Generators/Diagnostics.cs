using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Edge.Generators
{
    /// <summary>Every diagnostic the model generator reports, with its stable ID. IDs are never reused.</summary>
    internal static class Diagnostics
    {
        const string Category = "Edge.Model";

        static DiagnosticDescriptor Error(string id, string title, string message) =>
            new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NotPartial = Error("EDGE001",
            "Model class must be partial",
            "Model class '{0}' must be declared 'partial' so that Edge can generate the rest of it");

        public static readonly DiagnosticDescriptor NotTopLevel = Error("EDGE002",
            "Model class must be a top-level, non-generic class",
            "Model class '{0}' must be a top-level, non-generic class");

        public static readonly DiagnosticDescriptor HasBaseClass = Error("EDGE003",
            "Model class must not declare a base class",
            "Model class '{0}' derives from '{1}'; generated models derive from Edge.LanguageModel");

        public static readonly DiagnosticDescriptor MissingOutput = Error("EDGE004",
            "Model has no output layer",
            "Model '{0}' has no output layer: end the declaration with [OutputHead] (or declare a [BigramTable])");

        public static readonly DiagnosticDescriptor LayerAfterOutput = Error("EDGE005",
            "Layer after the output layer",
            "Model '{0}': [{1}] comes after the output layer; the output layer must be the last");

        public static readonly DiagnosticDescriptor NonPositive = Error("EDGE006",
            "Size must be positive",
            "Model '{0}': {1} must be a positive integer, got {2}");

        public static readonly DiagnosticDescriptor MissingEmbedding = Error("EDGE007",
            "Model must start with an embedding",
            "Model '{0}': [{1}] needs vectors as input; declare [TokenEmbedding] first");

        public static readonly DiagnosticDescriptor BigramNotAlone = Error("EDGE008",
            "Bigram table must be the only layer",
            "Model '{0}': [BigramTable] is a whole model (Context = 1, no other layers), but it is combined with [{1}]");

        public static readonly DiagnosticDescriptor NeedsFlatten = Error("EDGE009",
            "Dense layer over a context needs [Flatten]",
            "Model '{0}': [{1}] sees {2} embeddings per example; put [Flatten] before it to concatenate them");

        public static readonly DiagnosticDescriptor DuplicateLayer = Error("EDGE010",
            "Layer declared twice",
            "Model '{0}': [{1}] may appear only once");

        public static readonly DiagnosticDescriptor DuplicateName = Error("EDGE011",
            "Duplicate name",
            "{0} '{1}' is declared more than once");

        public static readonly DiagnosticDescriptor BadModelName = Error("EDGE012",
            "Invalid model name",
            "Model name '{0}' must be lower-case letters, digits and dashes, starting with a letter");

        public static readonly DiagnosticDescriptor BigramContext = Error("EDGE013",
            "Bigram model has context 1",
            "Model '{0}': a [BigramTable] model sees exactly one previous token; set Context = 1 (got {1})");

        public static readonly DiagnosticDescriptor BadRecipe = Error("EDGE014",
            "Option value out of range",
            "Model '{0}': {1} must be {2}, got {3}");

        public static readonly DiagnosticDescriptor HeadsDoNotDivide = Error("EDGE015",
            "Heads must divide the width",
            "Model '{0}': {1} attention heads do not divide the width {2}");

        public static readonly DiagnosticDescriptor TiedWidth = Error("EDGE016",
            "Tied head width differs from the embedding",
            "Model '{0}': the output head is tied to the embedding, but it sees vectors of width {1} and the embedding has width {2}");

        public static readonly DiagnosticDescriptor NotWithTransformer = Error("EDGE017",
            "Layer cannot be combined with transformer blocks",
            "Model '{0}': [{1}] cannot be used in a model with [{2}] (it works on windows, not sequences)");

        public static readonly DiagnosticDescriptor KvHeadsDoNotDivide = Error("EDGE018",
            "Key/value heads must divide the query heads",
            "Model '{0}': {1} key/value heads do not divide {2} query heads (each key/value head serves an equal group of query heads)");

        public static readonly DiagnosticDescriptor OddHeadSize = Error("EDGE019",
            "Rotary positions need an even head size",
            "Model '{0}': the head size {1} (width {2} / {3} heads) is odd; rotary position embeddings rotate channel pairs");

        public static readonly DiagnosticDescriptor WrongFamily = Error("EDGE020",
            "Layer of the other block family",
            "Model '{0}': [{1}] does not go with [{2}] ({3})");

        static readonly Dictionary<string, DiagnosticDescriptor> ById = new();

        static Diagnostics()
        {
            foreach (var d in new[] { NotPartial, NotTopLevel, HasBaseClass, MissingOutput, LayerAfterOutput, NonPositive,
                         MissingEmbedding, BigramNotAlone, NeedsFlatten, DuplicateLayer, DuplicateName, BadModelName,
                         BigramContext, BadRecipe, HeadsDoNotDivide, TiedWidth, NotWithTransformer, KvHeadsDoNotDivide, OddHeadSize, WrongFamily })
                ById[d.Id] = d;
        }

        public static DiagnosticDescriptor Get(string id) => ById[id];
    }
}
