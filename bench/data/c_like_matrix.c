// matrix.c: Gaussian elimination with partial pivoting on a dense n x n system,
// stored row by row in a handle from alloc_doubles (see stats.c for the helpers).

double absolute(double x) {
  if (x < 0.0) return -x;
  return x;
}

double at(long m, long n, long row, long col) {
  return loadf(m, row * n + col);
}

void put(long m, long n, long row, long col, double value) {
  storef(m, row * n + col, value);
}

void swap_rows(long m, long n, long r1, long r2) {
  long col = 0;
  double tmp = 0.0;
  if (r1 == r2) return;
  for (col = 0; col < n; col += 1) {
    tmp = at(m, n, r1, col);
    put(m, n, r1, col, at(m, n, r2, col));
    put(m, n, r2, col, tmp);
  }
}

/* Solves m * x = rhs in place; returns 0 when the matrix is singular. */
int solve(long m, long rhs, long x, long n) {
  long pivot = 0;
  long row = 0;
  long col = 0;
  long best = 0;
  double factor = 0.0;
  double sum = 0.0;
  double tmp = 0.0;
  for (pivot = 0; pivot < n; pivot = pivot + 1) {
    best = pivot;
    for (row = pivot + 1; row < n; row = row + 1) {
      if (absolute(at(m, n, row, pivot)) > absolute(at(m, n, best, pivot))) best = row;
    }
    if (absolute(at(m, n, best, pivot)) < 0.000000001) return 0;
    swap_rows(m, n, pivot, best);
    tmp = loadf(rhs, pivot);
    storef(rhs, pivot, loadf(rhs, best));
    storef(rhs, best, tmp);
    for (row = pivot + 1; row < n; row = row + 1) {
      factor = at(m, n, row, pivot) / at(m, n, pivot, pivot);
      for (col = pivot; col < n; col = col + 1) {
        put(m, n, row, col, at(m, n, row, col) - factor * at(m, n, pivot, col));
      }
      storef(rhs, row, loadf(rhs, row) - factor * loadf(rhs, pivot));
    }
  }
  for (row = n - 1; row >= 0; row = row - 1) {
    sum = loadf(rhs, row);
    for (col = row + 1; col < n; col = col + 1) sum -= at(m, n, row, col) * loadf(x, col);
    storef(x, row, sum / at(m, n, row, row));
  }
  return 1;
}

int main() {
  long n = 3;
  long m = alloc_doubles(9);
  long rhs = alloc_doubles(3);
  long x = alloc_doubles(3);
  put(m, n, 0, 0, 2.0);
  put(m, n, 0, 1, 1.0);
  put(m, n, 0, 2, -1.0);
  put(m, n, 1, 0, -3.0);
  put(m, n, 1, 1, -1.0);
  put(m, n, 1, 2, 2.0);
  put(m, n, 2, 0, -2.0);
  put(m, n, 2, 1, 1.0);
  put(m, n, 2, 2, 2.0);
  storef(rhs, 0, 8.0);
  storef(rhs, 1, -11.0);
  storef(rhs, 2, -3.0);
  if (!solve(m, rhs, x, n)) {
    print_text("singular\n");
    return 1;
  }
  print_double("x", loadf(x, 0));
  print_double("y", loadf(x, 1));
  print_double("z", loadf(x, 2));
  release(m);
  release(rhs);
  release(x);
  return 0;
}
