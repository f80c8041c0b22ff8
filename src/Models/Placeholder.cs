namespace Edge.Models; internal static class Placeholder {}
