namespace Edge.Models; public static class P {}
