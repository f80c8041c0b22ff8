namespace Edge.Generators; public class G {}
