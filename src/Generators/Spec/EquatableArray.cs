using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;

namespace Edge.Generators.Spec
{
    /// <summary>
    /// An immutable array compared by its elements, so that the records passed between incremental pipeline
    /// stages compare equal when their contents do and Roslyn can skip re-emitting unchanged models.
    /// </summary>
    internal readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IEnumerable<T> where T : IEquatable<T>
    {
        readonly ImmutableArray<T> _items;

        public EquatableArray(ImmutableArray<T> items) => _items = items;
        public EquatableArray(IEnumerable<T> items) => _items = items.ToImmutableArray();

        public ImmutableArray<T> Items => _items.IsDefault ? ImmutableArray<T>.Empty : _items;
        public int Count => Items.Length;
        public T this[int i] => Items[i];

        public bool Equals(EquatableArray<T> other) => Items.SequenceEqual(other.Items);
        public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

        public override int GetHashCode()
        {
            int h = 17;
            foreach (var item in Items) h = h * 31 + item.GetHashCode();
            return h;
        }

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Items).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

namespace System.Runtime.CompilerServices
{
    // Lets netstandard2.0 code declare records and init-only properties.
    internal static class IsExternalInit;
}
