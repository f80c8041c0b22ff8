namespace Edge; public static class Placeholder {}
