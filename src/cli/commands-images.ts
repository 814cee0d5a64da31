// `raptor image list`: the image catalogue ([[images]] in the config) with what is on disk.
import type { Command } from 'commander';
import { formatSize } from '../core/size.ts';
import { listImages } from '../service/images.ts';
import { ctxFor, g } from './common.ts';
import { printJson, table } from './output.ts';

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('disk images VMs are made from (the [[images]] catalogue)');
  image
    .command('list')
    .description('list the catalogue: name, format, virtual size, file size (allocated), description')
    .action(async (_o, cmd: Command) => {
      const images = await listImages(ctxFor(cmd));
      if (g(cmd).json) return printJson(images);
      const rows = images.map((i) => [
        i.name,
        i.format,
        i.virtualSize !== null ? formatSize(i.virtualSize) : 'missing',
        i.fileSize !== null ? formatSize(i.fileSize) : '-',
        i.description ?? '',
      ]);
      process.stdout.write(table(['NAME', 'FORMAT', 'VIRTUAL', 'FILE', 'DESCRIPTION'], rows));
    });
}
