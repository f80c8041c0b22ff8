using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>
/// Reductions across the threads of one group (device code): each thread brings a value, every thread gets the total.
/// The group's size is a power of two (the device's row group, <see cref="GpuDevice.RowGroup"/>); scratch holds a float per
/// thread in shared memory. A group of one thread (ILGPU's CPU accelerator, where a barrier costs a thread switch) returns
/// its value without a barrier: the branch is uniform across the group, so skipping the barrier is legal.
/// </summary>
static class GroupMath
{
    public static float Sum(float value, ArrayView<float> scratch)
    {
        int n = Group.DimX, i = Group.IdxX;
        if (n == 1) return value;
        scratch[i] = value;
        Group.Barrier();
        for (int s = n / 2; s > 0; s >>= 1)
        {
            if (i < s) scratch[i] += scratch[i + s];
            Group.Barrier();
        }
        float total = scratch[0];
        Group.Barrier();
        return total;
    }

    public static float Max(float value, ArrayView<float> scratch)
    {
        int n = Group.DimX, i = Group.IdxX;
        if (n == 1) return value;
        scratch[i] = value;
        Group.Barrier();
        for (int s = n / 2; s > 0; s >>= 1)
        {
            if (i < s) scratch[i] = MathF.Max(scratch[i], scratch[i + s]);
            Group.Barrier();
        }
        float total = scratch[0];
        Group.Barrier();
        return total;
    }

    /// <summary>A barrier that a one-thread group skips.</summary>
    public static void Barrier()
    {
        if (Group.DimX * Group.DimY > 1) Group.Barrier();
    }
}
