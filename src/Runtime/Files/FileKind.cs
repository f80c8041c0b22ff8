using System.Runtime.InteropServices;

namespace Edge.Files;

/// <summary>What is at a path, as lstat(2) says (symbolic links not followed).</summary>
public enum FileKind { Missing, Regular, Directory, SymbolicLink, Device, Fifo, Socket, Other }

/// <summary>
/// The kind of a file system entry. .NET's file APIs report a FIFO or a device as a plain existing file, and renaming
/// over one replaces it, so every output and input path is checked here first. The status comes from the .NET runtime's
/// own native library (the lstat it uses for FileInfo), which both the JIT and the NativeAOT build carry.
/// </summary>
public static unsafe partial class FileKinds
{
    // pal_io.h: FileStatus starts { int32 Flags; int32 Mode; ... }; S_IFMT bits as in POSIX.
    const int TypeMask = 0xF000, Fifo = 0x1000, Char = 0x2000, Dir = 0x4000, Block = 0x6000, Reg = 0x8000, Link = 0xA000, Sock = 0xC000;

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_LStat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LStat(string path, byte* status);

    public static FileKind Of(string path)
    {
        byte* status = stackalloc byte[512];   // larger than the runtime's FileStatus on any platform
        if (LStat(path, status) != 0) return FileKind.Missing;
        return (*(int*)(status + 4) & TypeMask) switch
        {
            Reg => FileKind.Regular,
            Dir => FileKind.Directory,
            Link => FileKind.SymbolicLink,
            Char or Block => FileKind.Device,
            Fifo => FileKind.Fifo,
            Sock => FileKind.Socket,
            _ => FileKind.Other,
        };
    }

    /// <summary>The kind of what a path names once symbolic links are followed.</summary>
    public static FileKind OfTarget(string path)
    {
        var kind = Of(path);
        for (int hops = 0; kind == FileKind.SymbolicLink && hops < 40; hops++)
        {
            string? target = new FileInfo(path).LinkTarget;
            if (target is null) return FileKind.Missing;
            path = Path.IsPathRooted(target) ? target : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, target);
            kind = Of(path);
        }
        return kind;
    }

    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Directory => "a folder",
        FileKind.Device => "a device",
        FileKind.Fifo => "a named pipe (FIFO)",
        FileKind.Socket => "a socket",
        FileKind.SymbolicLink => "a symbolic link",
        _ => "not a regular file",
    };
}
